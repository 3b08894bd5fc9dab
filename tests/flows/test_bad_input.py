"""A careless or hostile uploader: a corpus of bad batches beside a good one, through
`lantai ingest` (local folders, in-process) and the inbox sweep (an S3 inbox on a real
S3 server). The good batch is always ingested and enriched; every bad thing is reported
with its reason; nothing outside a batch is read; nothing is lost."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from minio import Minio
from PIL import Image, ImageDraw
from sqlmodel import col, select

from catalog.db import session_scope
from catalog.models import Asset, Item, ItemStatus
from catalog.ops import operations
from configs import get_settings
from configs.errors import BadInputError
from flows.enrich import enrich_flow
from flows.ingest import ingest_flow
from flows.schedules import inbox_sweep_flow
from storage import open_store
from tests.conftest import MODELS, REPO, RESOURCES, SAMPLES, S3Server, point_at_s3

RECURSIVE = b"[" * 100_000 + b"]" * 100_000


def _page(path: Path, text: str) -> Path:
    img = Image.new("L", (600, 120), 255)
    ImageDraw.Draw(img).text((10, 40), text, fill=0)
    img.save(path)
    return path


def _truncated_mp3(path: Path) -> Path:
    full = path.with_suffix(".full.mp3")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(SAMPLES / "jfk 1961 inaugural.flac"),
                    "-b:a", "64k", str(full)], check=True)  # fmt: skip
    path.write_bytes(full.read_bytes()[:600])
    full.unlink()
    return path


def _corpus(root: Path, outside: Path) -> dict[str, Path]:
    """One folder per batch."""
    b: dict[str, Path] = {}

    def folder(name: str) -> Path:
        b[name] = root / name
        b[name].mkdir(parents=True)
        return b[name]

    f = folder("recursive")
    (f / "manifest.json").write_bytes(RECURSIVE)
    _page(f / "waits.png", "waits for its manifest")
    f = folder("huge")
    with (f / "manifest.csv").open("w", encoding="utf-8") as fh:
        fh.write("文件名,题名\n")
        row = "x{:07d}.png," + "很长的题名" * 20 + "\n"
        for i in range(180_000):  # ~50 MB
            fh.write(row.format(i))
    _page(f / "x0000001.png", "huge manifest page")
    f = folder("gb18030")
    rows = "文件名,题名\na.png,甲文件\nc.png,丙文件\nb.png,乙文件\n".encode("gb18030")
    (f / "manifest.csv").write_bytes(rows.replace("丙".encode("gb18030"), b"\xff\xfe"))
    for name in ("a", "b", "c"):
        _page(f / f"{name}.png", f"gb18030 page {name}")
    f = folder("utf16")
    (f / "manifest.csv").write_bytes("文件名,题名\nu.png,十六位编码\n".encode("utf-16"))
    _page(f / "u.png", "utf16 page")
    f = folder("dupes")
    (f / "manifest.csv").write_text("文件名,题名\nd.png,第一行\nd.png,第二行\n", encoding="utf-8")
    _page(f / "d.png", "dupes page")
    f = folder("outside")
    (f / "manifest.csv").write_text("文件名,题名\n../outside.png,外面\n/etc/passwd,口令\ninside.png,里面\n")
    _page(f / "inside.png", "inside page")
    f = folder("names")
    _page(Path(os.fsdecode(bytes(f) + b"/zz\xff.png")), "non utf8 name")
    deep = f / ("长" * 80) / ("长" * 80) / ("长" * 80)  # 720 bytes of folders
    deep.mkdir(parents=True)
    _page(deep / ("长" * 80 + ".png"), "very long name")  # 960 bytes with the folders
    f = folder("links")
    (f / "to-file.png").symlink_to(outside / "secret.png")
    (f / "to-dir").symlink_to(outside)
    os.mkfifo(f / "pipe.png")
    f = folder("broken")
    shutil.copy(RESOURCES / "zero_pages.pdf", f / "zero.pdf")
    _truncated_mp3(f / "cut.mp3")
    f = folder("good")
    (f / "manifest.csv").write_text("文件名,题名,开放标识\ngood.png,好的批次,开放\n", encoding="utf-8")
    _page(f / "good.png", "the good batch page")
    return b


@pytest.fixture
def corpus(tmp_path: Path) -> dict[str, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    _page(outside / "secret.png", "SECRET outside the batch")
    return _corpus(tmp_path / "batches", outside)


def _items(settings) -> dict[str, Item]:  # type: ignore[no-untyped-def]
    with session_scope(settings) as s:
        return {i.source_name: i for i in s.exec(select(Item)).all()}


@pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"
def test_bad_batches_through_lantai_ingest(home: Path, corpus: dict[str, Path], tmp_path: Path) -> None:
    settings = get_settings()
    reports = {}
    for name, folder in corpus.items():
        reports[name] = ingest_flow(str(folder), "BAD", None, None)  # each folder is one batch
    store = open_store(settings)
    items = _items(settings)
    # the good batch: ingested with its manifest, then enriched
    assert items["good.png"].title == "好的批次" and items["good.png"].extra["proposed_access"] == "开放"
    # a recursive or oversized manifest: refused with the reason, the batch waits in the inbox
    for name, why in (("recursive", "nested deeper than 32 levels"), ("huge", "over the 16 MiB limit")):
        state = reports[name]["batches"][0]
        assert state["state"] == "waiting" and why in state["reason"], state
        assert any(k.key.startswith(f"quarantine/BAD/{name}/manifest") for k in store.list("quarantine/"))
        assert [o.key for o in store.list(f"inbox/BAD/{name}/")] != []  # nothing lost, nothing guessed
    assert "waits.png" not in items and "x0000001.png" not in items
    # GB18030 with one broken row: that row alone is skipped, with its line number
    assert items["a.png"].title == "甲文件" and items["b.png"].title == "乙文件"
    assert items["c.png"].title == "c"  # no row: the file name
    assert any("line 3: neither UTF-8 nor GB18030" in e for e in reports["gb18030"]["manifest_errors"])
    assert items["u.png"].title == "十六位编码"
    assert items["d.png"].title == "第一行"
    assert any("already described on line 2" in e for e in reports["dupes"]["manifest_errors"])
    errors = " ".join(reports["outside"]["manifest_errors"])
    assert "'../outside.png' names a file outside the batch" in errors and "'/etc/passwd'" in errors
    assert items["inside.png"].title == "里面"
    # names: quarantined with the reason, shown percent-encoded
    assert items["zz%FF.png"].status == ItemStatus.quarantined
    assert "not UTF-8" in items["zz%FF.png"].status_reason
    long_name = next(i for n, i in items.items() if n.startswith("长长"))
    assert long_name.status == ItemStatus.quarantined and "too long" in long_name.status_reason
    # links, a FIFO: listed with the reason; nothing behind them read
    for name, why in (
        ("to-file.png", "symbolic link"),
        ("to-dir", "symbolic link"),
        ("pipe.png", "named pipe"),
    ):
        assert items[name].status == ItemStatus.quarantined and why in items[name].status_reason
    secret = (tmp_path / "outside" / "secret.png").read_bytes()
    import hashlib

    secret_sha = hashlib.sha256(secret).hexdigest()
    with session_scope(settings) as s:
        assert not s.exec(select(Asset).where(Asset.sha256 == secret_sha)).first()
        assert not s.exec(select(Asset).where(col(Asset.key).contains("secret"))).first()
    assert "SECRET outside" not in "".join(i.title for i in items.values())
    # a PDF without pages and a truncated MP3: quarantined, saying so
    assert "no pages" in items["zero.pdf"].status_reason
    assert "truncated MP3" in items["cut.mp3"].status_reason
    # manifests of finished batches are kept with the batch's record, not left in the inbox
    assert not [o for o in store.list("inbox/BAD/good/")]
    assert [o.key for o in store.list("exports/manifests/BAD/good/")] == [
        "exports/manifests/BAD/good/manifest.csv"
    ]
    # status tells the operator which batches wait and why
    with session_scope(settings) as s:
        problems = operations.ingest_problems(s)
    assert {(p["batch"], "manifest refused" in p["reason"]) for p in problems} >= {
        ("recursive", True),
        ("huge", True),
    }
    # a corrected manifest arrives: the waiting batch goes in
    (corpus["recursive"] / "manifest.json").write_text('[{"file": "waits.png", "title": "终于"}]')
    again = ingest_flow(str(corpus["recursive"]), "BAD", None, None)
    assert again["batches"][0]["state"] == "ingested"
    assert _items(settings)["waits.png"].title == "终于"
    assert not store.exists("inbox/BAD/recursive/.manifest-rejected")
    outcomes = {o["reference_code"]: o["status"] for o in enrich_flow("BAD", None, False)}
    good = _items(settings)["good.png"]
    assert outcomes[good.reference_code] == ItemStatus.enriched

    # a refused manifest beside a file whose name storage cannot hold: the batch waits in
    # the inbox, and that file, which cannot wait there, is quarantined now (not lost)
    odd = tmp_path / "batches" / "odd"
    odd.mkdir()
    (odd / "manifest.json").write_bytes(RECURSIVE)
    _page(odd / "fine.png", "waits in the inbox")
    _page(Path(os.fsdecode(bytes(odd) + b"/odd\xfe.png")), "cannot wait")
    waiting = ingest_flow(str(odd), "BAD", None, None)
    assert waiting["batches"][0]["state"] == "waiting"
    assert store.exists("inbox/BAD/odd/fine.png")
    odd_item = _items(settings)["odd%FE.png"]
    assert odd_item.status == ItemStatus.quarantined and "not UTF-8" in odd_item.status_reason


def test_lantai_ingest_reports_a_refused_manifest(tmp_path: Path, corpus: dict[str, Path]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANTAI_", "PREFECT_"))}
    env |= {"LANTAI_HOME": str(tmp_path / "home"), "LANTAI_MODELS_DIR": str(MODELS), "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "lantai", "ingest", str(corpus["recursive"]), "--collection", "BAD"]
    run = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "nested deeper than 32 levels" in run.stdout and "waiting" in run.stdout


def _put(client: Minio, bucket: str, key: str, data: bytes) -> None:
    client.put_object(bucket, key, io.BytesIO(data), len(data))


@pytest.mark.slow
def test_inbox_sweep_goes_on_past_bad_batches(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_server: S3Server,
    bucket_name: str,
    corpus: dict[str, Path],
) -> None:
    point_at_s3(monkeypatch, "STORAGE", s3_server, bucket_name)
    settings = get_settings()
    store = open_store(settings)  # creates the bucket
    client = Minio(s3_server.endpoint, access_key=s3_server.access_key, secret_key=s3_server.secret_key,
                   secure=s3_server.secure)  # fmt: skip
    for name in ("recursive", "gb18030", "outside", "broken", "good"):
        for path in sorted(corpus[name].iterdir()):
            _put(client, bucket_name, f"inbox/BAD/{name}/{path.name}", path.read_bytes())
    # two batches with a file of the same name; only b2's manifest describes it
    _put(
        client,
        bucket_name,
        "inbox/J9/b1/scan.png",
        _page(Path(home.parent) / "s1.png", "batch one").read_bytes(),
    )
    _put(
        client,
        bucket_name,
        "inbox/J9/b2/scan.png",
        _page(Path(home.parent) / "s2.png", "batch two").read_bytes(),
    )
    _put(client, bucket_name, "inbox/J9/b2/manifest.csv", "文件名,题名\nscan.png,第二批的扫描件\n".encode())
    with pytest.raises(BadInputError, match="collections BAD, J9"):
        ingest_flow(f"s3://{bucket_name}/inbox/", "ZZ")  # never pulls other collections into ZZ
    result = inbox_sweep_flow()
    assert {(b["collection"], b["batch"]) for b in result["batches"]} >= {("BAD", "good"), ("J9", "b1")}
    items = _items(settings)
    assert items["good.png"].status == ItemStatus.enriched  # ingested and enriched past the bad ones
    assert items["a.png"].title == "甲文件" and items["inside.png"].title == "里面"
    assert "waits.png" not in items
    with session_scope(settings) as s:
        scans = s.exec(select(Item).where(Item.source_name == "scan.png").order_by(col(Item.batch))).all()
        assert [(i.batch, i.title) for i in scans] == [("b1", "scan"), ("b2", "第二批的扫描件")]
    assert "no pages" in items["zero.pdf"].status_reason and "truncated" in items["cut.mp3"].status_reason
    assert store.exists("inbox/BAD/recursive/waits.png") and store.exists(
        "inbox/BAD/recursive/.manifest-rejected"
    )
    assert not store.exists("inbox/BAD/good/manifest.csv")
    assert store.exists("exports/manifests/BAD/good/manifest.csv")
