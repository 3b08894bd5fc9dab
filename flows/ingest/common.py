"""What every step of an ingest shares: the report (per file and per batch) and its limits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CATEGORY = {"image": "WS", "pdf": "WS", "audio": "LY", "video": "LX"}
SERVER_COPY_LIMIT = 5 * 1024**3  # S3 CopyObject's limit; larger masters are uploaded again
SKIP_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass
class ObjectResult:
    key: str
    name: str
    outcome: str  # ingested | attached | duplicate | quarantined | failed (left in the inbox)
    item_id: int | None = None
    reference_code: str = ""
    reason: str = ""


OUTCOMES = ("ingested", "attached", "duplicate", "quarantined", "failed")
RESULTS_LISTED = 10_000  # new items listed one by one in a report; every problem is listed


@dataclass
class IngestReport:
    collection: str
    prefix: str
    results: list[ObjectResult] = field(default_factory=list)
    manifest_errors: list[str] = field(default_factory=list)
    # per batch: collection, batch, state (ingested | waiting | failed) and the reason
    batches: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    results_omitted: int = 0  # ingested/attached files past RESULTS_LISTED, counted only
    total: int = 0  # files to ingest
    done: int = 0

    def add(self, result: ObjectResult) -> None:
        self.counts[result.outcome] += 1
        if result.outcome in ("ingested", "attached") and len(self.results) >= RESULTS_LISTED:
            self.results_omitted += 1  # memory stays flat for an inbox of 100,000 files
        else:
            self.results.append(result)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["total"], out["done"]
        return out
