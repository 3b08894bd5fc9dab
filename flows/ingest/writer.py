"""The pipeline of one batch: files prepared on a bounded pool of threads, their rows written
by one writer thread in chunks, every file under its own error boundary."""

from __future__ import annotations

import posixpath
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from flows import runner
from flows.ingest.common import IngestReport, ObjectResult
from flows.ingest.prepare import Entry, Prepared, Run, prepare
from flows.ingest.records import commit, record_problem, record_quarantine
from flows.progress import report
from storage.keys import printable_name


class _Writer(threading.Thread):
    """The one thread that writes a batch's catalog rows, chunk after chunk, while the
    workers go on hashing and uploading the next files: files in flight, catalog writes
    and inbox clean-up overlap, and at most two chunks wait (memory stays bounded)."""

    def __init__(self, run: Run, report_: IngestReport, pool: ThreadPoolExecutor) -> None:
        super().__init__(name="lantai-ingest-writer", daemon=True)
        self.run_, self.report_, self.pool = run, report_, pool
        self.chunks: queue.Queue[list[Prepared] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.failed = 0

    def put(self, chunk: list[Prepared] | None) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.chunks.put(chunk, timeout=0.5)
                return
            except queue.Full:
                continue

    def run(self) -> None:
        try:
            while (chunk := self.chunks.get()) is not None:
                self._write(chunk)
        except BaseException as e:  # handed to the feeding thread, which stops the batch
            self.error = e

    def _write(self, chunk: list[Prepared]) -> None:
        run, store = self.run_, self.run_.store
        log = runner.logger()
        stored = [p for p in chunk if p.outcome in ("master", "duplicate")]
        if stored:
            for result in commit(run, stored):
                self.report_.add(result)
            # only once the rows are committed
            list(self.pool.map(store.delete, [p.entry.key for p in stored if p.entry.key]))
        for p in chunk:
            entry = p.entry
            if p.outcome == "quarantine":
                result = record_quarantine(run.settings, collection=run.collection, key=p.quarantine_key,
                                           name=printable_name(entry.name), sha256=p.sha, size=p.size,
                                           reason=p.reason, batch=run.batch)  # fmt: skip
                if entry.key:
                    store.delete(entry.key)
            elif p.outcome == "failed":  # this file waits (in the inbox, or its folder); the others go on
                self.failed += 1
                result = ObjectResult(entry.key, printable_name(entry.name), "failed", reason=p.reason)
                record_problem(run.settings, collection=run.collection, batch=run.batch,
                               reason=f"{printable_name(entry.name)}: {p.reason}")  # fmt: skip
            else:
                continue
            log.info("%s %s %s", result.outcome, printable_name(entry.name), result.reason)
            self.report_.add(result)


def ingest_entries(run: Run, entries: Iterator[Entry], report_: IngestReport) -> int:
    """Ingest entries with a bounded number in flight; returns how many failed (they wait:
    in the inbox, or in their folder for the next run)."""
    settings = run.settings
    workers = settings.ingest.workers
    in_flight: deque[Future[Prepared]] = deque()
    chunk: list[Prepared] = []
    chunk_started = time.monotonic()
    with ThreadPoolExecutor(workers, thread_name_prefix="lantai-ingest") as pool:
        writer = _Writer(run, report_, pool)
        writer.start()

        def take() -> None:
            nonlocal chunk, chunk_started
            p = in_flight.popleft().result()
            if not chunk:
                chunk_started = time.monotonic()
            chunk.append(p)
            report_.done += 1
            report(
                "ingest",
                done=report_.done,
                total=report_.total,
                name=printable_name(posixpath.basename(p.entry.name)),
            )
            if len(chunk) >= settings.ingest.commit_every or time.monotonic() - chunk_started > 2:
                writer.put(chunk)
                chunk = []

        try:
            for entry in entries:
                in_flight.append(pool.submit(prepare, run, entry))
                while len(in_flight) >= 2 * workers:
                    take()
            while in_flight:
                take()
            writer.put(chunk)
        finally:
            for pending in in_flight:
                pending.cancel()
            if writer.error is None:
                writer.chunks.put(None)  # the writer finishes what it has, then stops
            writer.join()
    if writer.error is not None:
        raise writer.error
    return writer.failed
