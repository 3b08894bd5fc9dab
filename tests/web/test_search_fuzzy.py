"""The fuzzy option in the staff and public search pages and the JSON API."""

from __future__ import annotations

from tests.web.conftest import Browser, Seeded, screen_and_redact


def test_fuzzy_option_in_staff_and_public_search(
    client: Browser, clients: dict[str, Browser], seeded: Seeded
) -> None:
    screen_and_redact(seeded.scan)
    for browser, url in ((clients["ed"], "/search"), (client, "/public/search")):
        plain = browser.get(url, params={"q": "账户余颜"}).text  # OCR-like: 额 read as 颜
        assert f"/items/{seeded.scan}" not in plain
        page = browser.get(url, params={"q": "账户余颜", "fuzzy": "true"}).text
        assert f"/items/{seeded.scan}" in page and '<mark class="differs">额</mark>' in page, url
        assert 'name="fuzzy" value="true"' in page and "checked" in page
    api = clients["ed"].get("/api/search", params={"q": "账户余颜", "fuzzy": "true"}).json()
    assert [r["fuzzy"] for r in api["hits"]] == [True]  # one item, found near
    assert [h["fuzzy"] for r in api["hits"] for h in r["hits"]] == [True]
    assert clients["ed"].get("/search", params={"q": "账户", "fuzzy": "maybe"}).status_code == 422
