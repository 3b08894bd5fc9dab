"""The enrich flow: OCR for scans, transcription for recordings, then the search index.

Work is keyed by (master checksum, engine, version/model, options): a re-run skips what is
already done, and a changed model or option re-runs only what it affects.

The steps, top to bottom: ``flow`` (every item with pending work) → ``item`` (claim, fetch each
master, then ``scans`` or ``recordings``, then status, screening and index) — with ``common``
for the work keys, derivatives, progress and the claim's heartbeat.
"""

from flows.enrich.common import Heartbeat, ItemOutcome, publish_progress, result_key
from flows.enrich.flow import enrich_flow, pending_kinds, preflight
from flows.enrich.item import enrich_item
from flows.enrich.recordings import asr_deadline, asr_engine, expected_speakers

__all__ = [
    "Heartbeat",
    "ItemOutcome",
    "asr_deadline",
    "asr_engine",
    "enrich_flow",
    "enrich_item",
    "expected_speakers",
    "pending_kinds",
    "preflight",
    "publish_progress",
    "result_key",
]
