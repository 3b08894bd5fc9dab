"""The ingest flow: files become immutable masters and catalog items.

Local files go straight to their content address, with no round trip through the inbox:
each is opened once without following links, hashed, identified from its bytes, checked
for structure (cheaply: headers and layout, not every pixel), and uploaded write-once to
``masters/<sha>/…`` through the same descriptor. An ``s3://`` inbox object is read once
(hashed into a private work file), checked, and copied server-side. A bounded number of
files are in flight at once; their catalog rows (item, asset, PREMIS events, search
entries) are written in short transactions of a few hundred files, and an inbox object is
deleted only after its rows are committed. Killed at any point, a re-run creates nothing
twice: masters are write-once by content and the catalog is keyed by checksum. Objects
that cannot be used go to ``quarantine/`` with the reason. A batch whose manifest is
refused waits in the inbox for a corrected one. Each batch is one Prefect task.

The steps, top to bottom: ``batches`` (which files make a batch) → ``walk`` / ``inbox`` (its
files) → ``manifests`` (their description) → ``prepare`` (hash, identify, write-once master)
→ ``records`` (catalog rows) — run by ``writer`` — and ``flow``, the Prefect flow over batches.
"""

from flows.ingest.batches import LocalBatch, ingest_inbox_batch, ingest_local_batch, plan_local_batches
from flows.ingest.common import IngestReport, ObjectResult
from flows.ingest.flow import ingest_flow, parse_source
from flows.ingest.inbox import Batch, iter_batches, scan_inbox
from flows.ingest.records import record_problem, record_quarantine
from flows.ingest.walk import FileChanged, Pinned, local_files

__all__ = [
    "Batch",
    "FileChanged",
    "IngestReport",
    "LocalBatch",
    "ObjectResult",
    "Pinned",
    "ingest_flow",
    "ingest_inbox_batch",
    "ingest_local_batch",
    "iter_batches",
    "local_files",
    "parse_source",
    "plan_local_batches",
    "record_problem",
    "record_quarantine",
    "scan_inbox",
]
