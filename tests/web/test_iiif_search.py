"""IIIF Content Search within a manifest (2.0, and the 1.0 form Mirador 4.0 reads): hits as
annotations on the canvas regions the manifest draws, through the one access policy — the
public searches masked text only."""

from __future__ import annotations

from urllib.parse import quote

from iiif_prezi3 import Manifest

from tests.web.conftest import ID_NUMBER, Browser, Seeded, screen_and_redact


def _search(client: Browser, item: int, q: str, version: str = "search") -> dict:  # type: ignore[type-arg]
    response = client.get(f"/iiif/{version}/{item}?q={quote(q)}")
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    return response.json()  # type: ignore[no-any-return]


def _region(anno: dict) -> tuple[str, str]:  # type: ignore[type-arg]
    target = anno["target"]
    return target["source"]["id"], target["selector"][0]["value"]


def test_the_manifest_advertises_both_services(client: Browser, seeded: Seeded) -> None:
    body = client.get(f"/iiif/manifest/{seeded.scan}").json()
    Manifest(**body)  # still a valid Presentation 3 manifest with its services
    services = body["service"]
    assert services[0] == {"id": f"http://testserver/iiif/search/{seeded.scan}", "type": "SearchService2"}
    assert services[1]["profile"] == "http://iiif.io/api/search/1/search"
    assert services[1]["@id"] == f"http://testserver/iiif/search1/{seeded.scan}"


def test_hits_are_highlighting_annotations_on_the_manifests_regions(
    clients: dict[str, Browser], seeded: Seeded
) -> None:
    editor = clients["ed"]
    manifest = editor.get(f"/iiif/manifest/{seeded.scan}").json()
    canvas = manifest["items"][0]
    lines = {a["target"].split("#")[1]: a["body"]["value"] for a in canvas["annotations"][0]["items"]}
    page = _search(editor, seeded.scan, "账户")
    assert page["@context"] == "http://iiif.io/api/search/2/context.json" and page["type"] == "AnnotationPage"
    assert page["id"].endswith(f"/iiif/search/{seeded.scan}?q=%E8%B4%A6%E6%88%B7")
    (hit,) = page["items"]
    assert hit["motivation"] == "highlighting" and hit["type"] == "Annotation"
    source, fragment = _region(hit)
    assert source == canvas["id"] and hit["target"]["source"]["partOf"][0]["id"] == manifest["id"]
    assert fragment.startswith("xywh=") and lines[fragment] == "账户余额"  # the line's own box
    (context,) = page["annotations"][0]["items"]
    assert context["motivation"] == "contextualizing" and context["target"]["source"]["id"] == hit["id"]
    assert context["target"]["selector"][0] == {
        "type": "TextQuoteSelector",
        "prefix": "",
        "exact": "账户",
        "suffix": "余额",
    }
    # a recording: the segment's time span on the part's canvas
    talk = editor.get(f"/iiif/manifest/{seeded.recording}").json()
    spans = {a["target"].split("#")[1] for a in talk["items"][0]["annotations"][0]["items"]}
    (said,) = _search(editor, seeded.recording, "谢谢大家")["items"]
    source, fragment = _region(said)
    assert source == talk["items"][0]["id"] and fragment in spans and fragment.startswith("t=")
    # the 1.0 form: the same hits as resources and hits
    old = _search(editor, seeded.scan, "账户", "search1")
    assert old["@type"] == "sc:AnnotationList" and old["within"]["total"] == 1
    (resource,) = old["resources"]
    assert resource["on"] == f"{canvas['id']}#{fragment_of(page)}" and resource["resource"]["chars"] == "账户"
    assert old["hits"] == [{"@type": "search:Hit", "annotations": [resource["@id"]], "match": "账户",
                            "before": "", "after": "余额"}]  # fmt: skip


def fragment_of(page: dict) -> str:  # type: ignore[type-arg]
    return _region(page["items"][0])[1]


def test_the_public_searches_masked_text_only(
    client: Browser, clients: dict[str, Browser], seeded: Seeded
) -> None:
    screen_and_redact(seeded.scan)  # the ID number on the page becomes a flag: masked for the public
    for version in ("search", "search1"):
        for q in (ID_NUMBER, ID_NUMBER[:12], "19491231"):
            found = _search(client, seeded.scan, q, version)
            answer = {k: v for k, v in found.items() if k not in ("id", "@id")}  # those echo the query
            assert ID_NUMBER not in str(answer) and not found.get("items") and not found.get("resources"), q
    assert _search(client, seeded.scan, "身份证")["items"]  # the label beside it is found ...
    public = _search(client, seeded.scan, "身份证")["annotations"][0]["items"][0]["target"]["selector"][0]
    assert ID_NUMBER not in str(public) and "█" in public["suffix"]  # ... and its context is masked
    assert _search(clients["ed"], seeded.scan, ID_NUMBER)["items"]  # staff search the full text
    # an item the public may not see does not exist for its search either
    assert client.get(f"/iiif/search/{seeded.closed}?q=水库").status_code == 404
    assert client.get(f"/iiif/search1/{seeded.closed}?q=水库").status_code == 404
    assert clients["ed"].get(f"/iiif/search/{seeded.closed}?q=水库").json()["items"]


def test_bad_queries_are_answered_not_crashed(client: Browser, seeded: Seeded) -> None:
    assert _search(client, seeded.scan, "")["items"] == []
    assert (
        client.get(f"/iiif/search/{seeded.scan}?q=%22%22%20*%20()").status_code == 422
    )  # nothing to search for
    assert client.get(f"/iiif/search/{seeded.scan}?q={'账' * 500}").status_code == 422  # too long
    assert client.get("/iiif/search/99999999999999999999?q=x").status_code == 404
