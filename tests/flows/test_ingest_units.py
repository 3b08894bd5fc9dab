"""Parts of ingest at scale: an inbox listing becomes batches one at a time (memory stays
flat for any inbox size) with the same grouping and refusal as a whole listing; a local
file is read through one descriptor opened without following links."""

from __future__ import annotations

import pytest

from configs.errors import BadInputError
from flows.ingest import iter_batches, scan_inbox

KEYS = [
    "inbox/A/b1/manifest.csv",
    "inbox/A/b1/p1.png",
    "inbox/A/b1/sub/p2.png",
    "inbox/A/b2/.manifest-rejected",
    "inbox/A/b2/p1.png",
    "inbox/A/loose.png",  # outside a batch folder, between two batch folders in key order
    "inbox/A/z9/p1.png",
    "inbox/B/b1/p1.png",
    "inbox/root.png",
]


def test_batches_in_listing_order_with_loose_files_last() -> None:
    seen = []

    def listing():  # type: ignore[no-untyped-def]
        for key in KEYS:
            seen.append(key)
            yield key

    batches = iter_batches(listing(), collection=None, default="D")
    first = next(batches)
    assert (first.collection, first.name, first.prefix) == ("A", "b1", "inbox/A/b1/")
    assert first.files == ["inbox/A/b1/p1.png", "inbox/A/b1/sub/p2.png"]
    assert first.manifests == ["inbox/A/b1/manifest.csv"]
    assert len(seen) == 4  # read only up to the next batch's first key
    rest = list(batches)
    assert [(b.collection, b.name) for b in rest] == [
        ("A", "b2"), ("A", "z9"), ("B", "b1"), ("A", "batch"), ("D", "batch"),
    ]  # fmt: skip
    assert rest[0].rejected_marker and rest[0].files == ["inbox/A/b2/p1.png"]
    assert rest[3].files == ["inbox/A/loose.png"] and rest[3].prefix == "inbox/A/"


def test_scan_counts_and_refuses_other_collections_before_anything() -> None:
    scan = scan_inbox(iter(KEYS), collection=None, default="D")
    assert scan.collections == {"A", "B"} and scan.objects == len(KEYS)
    assert ("A", "b1") in scan.batches and ("D", "batch") in scan.batches
    with pytest.raises(BadInputError, match="collections A, B, not only A"):
        scan_inbox(iter(KEYS), collection="A", default="A")
    only_a = [k for k in KEYS if k.startswith("inbox/A/")]
    assert scan_inbox(iter(only_a), collection="A", default="A").collections == {"A"}


def test_a_local_file_is_read_through_one_descriptor(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Swapped for a link after the folder was listed: refused, the link not followed.
    Modified while it is read: noticed. Otherwise every read sees the file first opened,
    even if its path now names another file."""
    from flows.ingest import FileChanged, Pinned

    secret = tmp_path / "secret.txt"
    secret.write_text("outside the batch")
    page = tmp_path / "page.png"
    page.write_bytes(b"first content")
    swapped = tmp_path / "swapped.png"
    swapped.symlink_to(secret)
    with pytest.raises(FileChanged, match="cannot be opened as a regular file"):
        Pinned(swapped)
    with Pinned(page) as pinned:
        digest = pinned.sha256()
        page.rename(tmp_path / "moved.png")
        page.symlink_to(secret)  # the path now names the secret
        assert pinned.path.read_bytes() == b"first content"
        assert pinned.sha256() == digest
        pinned.check_unchanged()
        with (tmp_path / "moved.png").open("ab") as fh:
            fh.write(b" and more")
        with pytest.raises(FileChanged, match="changed while it was being ingested"):
            pinned.check_unchanged()
