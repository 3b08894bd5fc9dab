"""The inbox layout ``inbox/<collection>/<batch>/…``: which objects form which batch."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field

from catalog import manifest
from configs.errors import BadInputError
from storage.keys import INBOX

# ---------------------------------------------------------------- one object


REJECTED = ".manifest-rejected"  # left in a batch whose manifest was refused: its files wait


@dataclass
class Batch:
    """The objects of one inbox batch (``inbox/<collection>/<batch>/``) and its manifests."""

    collection: str
    name: str
    prefix: str  # the batch folder's key prefix
    files: list[str] = field(default_factory=list)  # object keys
    manifests: list[str] = field(default_factory=list)
    rejected_marker: bool = False


def _place(key: str, collection: str | None, default: str) -> tuple[str, str, str, bool]:
    """(collection, batch, batch prefix, in a batch folder) of an inbox key."""
    parts = key[len(INBOX) :].split("/") if key.startswith(INBOX) else [key]
    if len(parts) >= 3:
        return parts[0], parts[1], f"{INBOX}{parts[0]}/{parts[1]}/", True
    if len(parts) == 2:
        return parts[0], "batch", f"{INBOX}{parts[0]}/", False
    return collection or default, "batch", INBOX, False


def _add(batch: Batch, key: str) -> None:
    base = posixpath.basename(key)
    if base == REJECTED:
        batch.rejected_marker = True
    elif base.lower() in manifest.MANIFEST_NAMES:
        batch.manifests.append(key)
    elif not base.startswith("."):
        batch.files.append(key)


@dataclass
class InboxScan:
    """What a first pass over an inbox prefix found: the collections its layout names, its
    batches, and how many objects (only names and counts are kept, whatever its size)."""

    collections: set[str] = field(default_factory=set)
    batches: set[tuple[str, str]] = field(default_factory=set)
    objects: int = 0


def scan_inbox(keys: Iterator[str], *, collection: str | None, default: str) -> InboxScan:
    """A first pass: a ``collection`` given for a prefix holding other collections' batches
    is refused before anything is ingested (one collection's files are never pulled into
    another)."""
    found = InboxScan()
    for key in keys:
        coll, name, prefix, _ = _place(key, collection, default)
        if prefix != INBOX:  # the layout names the collection
            found.collections.add(coll)
        found.batches.add((coll, name))
        found.objects += 1
    if collection and found.collections - {collection}:
        raise BadInputError(
            f"this inbox prefix holds the batches of the collections {', '.join(sorted(found.collections))}, "
            f"not only {collection}",
            hint="ingest one collection's prefix (inbox/<collection>/…), or leave out --collection: "
            "the inbox layout names each batch's collection",
        )
    return found


def iter_batches(keys: Iterator[str], *, collection: str | None, default: str) -> Iterator[Batch]:
    """The batches of an inbox listing in key order, one at a time: a batch folder's keys are
    contiguous in a listing (they share its prefix), so only the current batch is held,
    whatever the size of the inbox. Files outside batch folders form one batch per
    collection (or of ``collection``/``default``), yielded last."""
    current: Batch | None = None
    loose: dict[tuple[str, str], Batch] = {}
    for key in keys:
        coll, name, prefix, in_folder = _place(key, collection, default)
        if not in_folder:
            _add(loose.setdefault((coll, name), Batch(coll, name, prefix)), key)
            continue
        if current is None or current.prefix != prefix:
            if current is not None:
                yield current
            current = Batch(coll, name, prefix)
        _add(current, key)
    if current is not None:
        yield current
    yield from (loose[k] for k in sorted(loose))
