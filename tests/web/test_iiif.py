"""IIIF for real: the Image API checked by the IIIF community's validator (iiif-validator,
level 1), the Presentation manifests parsed by iiif-prezi3, Mirador (npm) opening a Lantai
manifest in headless Chromium, and the access policy on every IIIF route."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from PIL import Image
from sqlmodel import Session

from catalog.db import get_engine
from catalog.models import Access, Asset, Collection, Item, ItemStatus, Page
from configs import get_settings
from storage import open_store
from tests.web.conftest import Browser, Seeded, screen_and_redact

REPO = Path(__file__).resolve().parents[2]


def _validator_image() -> Image.Image:
    """The IIIF validator's test image: 10 x 10 squares of 100 px in its known colours."""
    from iiif_validator.validator import ValidationInfo

    colours = ValidationInfo().colorInfo
    img = Image.new("RGB", (1000, 1000))
    for x in range(10):
        for y in range(10):
            img.paste(colours[x][y], (x * 100, y * 100, x * 100 + 100, y * 100 + 100))
    return img


@pytest.fixture
def grid_page(seeded: Seeded) -> int:
    """An open scan whose page image is the validator's test image."""
    store = open_store(get_settings())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "grid.png"
        _validator_image().save(path)
        store.put_file("derivatives/gg/grid/pages/00001.png", path, content_type="image/png")
    with Session(get_engine(get_settings().db_url)) as s:
        coll = Collection(code="IIIF", name="IIIF test")
        s.add(coll)
        s.flush()
        item = Item(collection_id=coll.id or 0, reference_code="J009-WS·2020·Y-001", title="色块",
                    kind="scan", status=ItemStatus.enriched, access=Access.open)  # fmt: skip
        s.add(item)
        s.flush()
        master = Asset(item_id=item.id or 0, role="master", key="masters/gg/grid/grid.png", sha256="c" * 64)
        s.add(master)
        s.flush()
        page = Page(item_id=item.id or 0, asset_id=master.id or 0, page_no=1, text="", lines=[],
                    width=1000, height=1000, image_key="derivatives/gg/grid/pages/00001.png")  # fmt: skip
        s.add(page)
        s.commit()
        return page.id or 0


def test_image_api_passes_the_iiif_validator_at_level_1(live_server: str, grid_page: int) -> None:
    host = live_server.removeprefix("http://")
    done = subprocess.run(
        [sys.executable, str(REPO / ".venv/bin/iiif-validate.py"), "-s", host, "-p", "iiif/image",
         "-i", str(grid_page), "--version=3.0", "--level", "1", "-v"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert re.search(r"Done \((\d+) tests, 0 failures\)", report) and " FAIL\n" not in report, report
    assert int(re.search(r"Done \((\d+) tests", report)[1]) >= 20, report  # type: ignore[index]


def test_regions_sizes_rotation_and_cache(client: Browser, grid_page: int) -> None:
    base = f"/iiif/image/{grid_page}"
    info = client.get(f"{base}/info.json").json()
    assert info["profile"] == "level1" and info["width"] == 1000 and info["id"].endswith(base)
    tile = client.get(f"{base}/100,200,100,100/50,/90/gray.png")
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(tile.content))
    assert img.size == (50, 50) and img.mode == "L"
    again = client.get(f"{base}/100,200,100,100/50,/90/gray.png")
    assert again.content == tile.content  # from the tile cache
    assert client.get(f"{base}/full/2000,/0/default.jpg").status_code == 400  # upscaling without ^
    assert client.get(f"{base}/full/max/45/default.jpg").status_code == 501
    assert client.get(f"{base}/0,0,10,10/max/0/bitonal.jpg").status_code == 400
    assert client.get(f"{base}/5000,0,10,10/max/0/default.jpg").status_code == 400


def test_access_policy_on_iiif_routes(client: Browser, clients: dict[str, Browser], seeded: Seeded) -> None:
    closed_id = seeded.closed_page
    # the public: nothing of a controlled item, not even its existence
    for url in (f"/iiif/image/{closed_id}/info.json", f"/iiif/image/{closed_id}/full/max/0/default.jpg",
                f"/iiif/manifest/{seeded.closed}"):  # fmt: skip
        assert client.get(url).status_code == 404
    assert client.get("/iiif/manifest/999999").status_code == 404
    # an editor sees it
    assert clients["ed"].get(f"/iiif/manifest/{seeded.closed}").status_code == 200
    # the public manifest of the open scan, screened as enrichment does: masked text, and no
    # image until the redacted one is made
    from catalog.review.screening import term_lists
    from flows.publish import screen_and_index as screen_item

    with Session(get_engine(get_settings().db_url)) as s:
        item = s.get(Item, seeded.scan)
        assert item is not None
        screen_item(s, item, term_lists(get_settings(), None))
        s.commit()
    body = client.get(f"/iiif/manifest/{seeded.scan}").json()
    assert client.get(f"/iiif/image/{seeded.page}/full/max/0/default.jpg").status_code == 404
    assert clients["ed"].get(f"/iiif/image/{seeded.page}/full/max/0/default.jpg").status_code == 200
    text = str(body)
    from tests.web.conftest import ID_NUMBER, XSS

    assert ID_NUMBER not in text and XSS in text  # masked; text is JSON data, not markup
    staff = str(clients["ed"].get(f"/iiif/manifest/{seeded.scan}").json())
    assert ID_NUMBER in staff


def test_manifests_parse_with_iiif_prezi3(client: Browser, seeded: Seeded, grid_page: int) -> None:
    from iiif_prezi3 import Manifest

    for item_id in (seeded.scan, seeded.recording):
        response = client.get(f"/iiif/manifest/{item_id}")
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        manifest = Manifest(**response.json())
        assert manifest.items, item_id
    scan = Manifest(**client.get(f"/iiif/manifest/{seeded.scan}").json())
    canvas = scan.items[0]
    assert canvas.annotations and canvas.annotations[0].items[0].motivation == "supplementing"
    talk = Manifest(**client.get(f"/iiif/manifest/{seeded.recording}").json())
    assert talk.items[0].duration > 0 and talk.items[0].annotations[0].items


def test_a_page_redacted_again_is_never_served_from_the_old_cut_outs(client: Browser, seeded: Seeded) -> None:
    """The redacted copy of a page keeps its object key when it is made again with more
    boxes; IIIF must serve the new one at once, not a cached tile of the old one."""
    from sqlmodel import select

    from catalog.models import Flag
    from flows.publish import public_copies as redact_item

    screen_and_redact(seeded.scan)
    url = f"/iiif/image/{seeded.page}/full/max/0/default.png"
    first = client.get(url)
    assert first.status_code == 200
    with Session(get_engine(get_settings().db_url)) as s:  # a reviewer flags another line
        flag = s.exec(select(Flag).where(Flag.item_id == seeded.scan, Flag.page_no == 1)).first()
        assert flag is not None
        s.add(Flag(item_id=seeded.scan, kind="pii", category="name", status="confirmed", page_no=1,
                   bbox=[10, 10, 60, 40], detail={"value": "网络支付"}))  # fmt: skip
        s.commit()
    assert client.get(url).status_code == 404  # the new redacted copy is not made yet
    redact_item(seeded.scan)
    second = client.get(url)
    assert second.status_code == 200 and second.content != first.content
    img = Image.open(io.BytesIO(second.content)).convert("L")
    assert max(img.crop((12, 12, 58, 38)).getdata()) < 40  # the new box is black
