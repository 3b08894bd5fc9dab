"""Engines in a child process, so that every call can be given a deadline.

onnxruntime, CTranslate2 and PyTorch cannot be interrupted from Python: a call that loops
(openai-whisper on a clip past the audio's end, upstream pull request 2005) or stalls holds
its thread for ever. So the engine lives in a child process that the caller can kill. The
child builds the engine once (``factory(*args)``, a module-level callable named by its
import path) and serves calls over a pipe; a call that streams (an ASR engine's segments)
sends each item as it comes. The caller waits at most until the call's deadline for each
message; past it the child is killed, ``EngineTimeout`` is raised naming the engine and the
seconds, and the next call starts a fresh child (the model loads again). An error inside
the engine comes back as ``EngineCrashed`` with the child's type and message; a child that
dies (out of memory, a segfault in native code) is ``EngineCrashed`` too.

The child is started with ``spawn``: the caller has threads (claim heartbeats, Prefect),
and forking a threaded process is unsafe."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import multiprocessing as mp
import threading
import time
import traceback
import weakref
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from configs.errors import LantaiError

START_DEADLINE = 600.0  # seconds to start the child and load a model (a large one from a slow disk)


class EngineTimeout(LantaiError):
    """An engine call (OCR of a page, ASR of a recording) ran past its deadline and was stopped."""

    http_status = 504


class EngineCrashed(LantaiError):
    """The engine raised, or its process died (out of memory, a crash in native code)."""


def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _serve(conn: Connection, factory: str, args: tuple[Any, ...], describe: tuple[str, ...]) -> None:
    """The child: build the engine, report what it is, then serve calls until told to stop."""
    try:
        engine = _resolve(factory)(*args)
        conn.send(("ready", {name: getattr(engine, name) for name in describe}))
    except BaseException as e:  # reported to the caller, who decides
        conn.send(("error", (type(e).__name__, str(e), traceback.format_exc())))
        return
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        method, call_args, streaming = request
        try:
            result = getattr(engine, method)(*call_args)
            if streaming:  # (head, iterator): the head, then each item
                head, items = result
                conn.send(("head", head))
                for item in items:
                    conn.send(("item", item))
                conn.send(("end", None))
            else:
                conn.send(("result", result))
        except BaseException as e:
            conn.send(("error", (type(e).__name__, str(e), traceback.format_exc())))


_LIVE: weakref.WeakSet[Hosted] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """At exit, ask every engine child to stop and wait for it: a child killed by
    multiprocessing's own exit handler (it runs after this one) could not release what it
    holds (the resource tracker then reports leaked semaphores)."""
    for hosted in list(_LIVE):
        hosted.stop()


class Hosted:
    """One engine in one child process (started on first use, restarted after a kill).
    Calls are serialised: one at a time, as the engine runs them anyway."""

    def __init__(
        self, label: str, factory: str, args: tuple[Any, ...] = (), describe: tuple[str, ...] = ()
    ) -> None:
        self.label, self.factory, self.args, self.describe = label, factory, args, describe
        self.info: dict[str, Any] = {}
        self._proc: Any = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        _LIVE.add(self)

    # ------------------------------------------------------------------ the child

    def start(self) -> dict[str, Any]:
        """Start the child if it is not running; what the engine says it is."""
        if self._proc is not None and self._proc.is_alive():
            return self.info
        self.stop()
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve, args=(child, self.factory, self.args, self.describe), name=f"engine-{self.label}",
            daemon=True,
        )  # fmt: skip
        self._proc.start()
        child.close()
        self._conn = parent
        kind, payload = self._receive(time.monotonic() + START_DEADLINE, "starting")
        if kind != "ready":
            self.stop()
            raise EngineCrashed(f"{self.label} could not start: {payload}")
        self.info = payload
        self.label = str(payload.get("name") or self.label)
        return self.info

    def stop(self) -> None:
        """Stop the child (asked first, killed if it does not go)."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(None)
            conn.close()
        if proc is not None:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)

    def _kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.is_alive():
            proc.kill()
            proc.join(timeout=10)
        self.stop()

    def _receive(self, deadline: float, doing: str, seconds: float = START_DEADLINE) -> tuple[str, Any]:
        conn = self._conn
        assert conn is not None
        try:
            ready = False
            while not ready and (left := deadline - time.monotonic()) > 0:
                ready = conn.poll(min(left, 3600.0))
            if ready:
                kind, payload = conn.recv()
            else:
                kind, payload = "timeout", None
        except (EOFError, OSError):
            kind, payload = "died", None
        if kind == "error":
            name, message, _trace = payload
            if doing != "starting":
                raise EngineCrashed(f"{self.label}: {name}: {message}")
            return kind, f"{name}: {message}"
        if kind == "died":
            if self._proc is not None:
                self._proc.join(timeout=5)  # reaped, so its exit code is known
            code = self._proc.exitcode if self._proc is not None else None
            self._kill()
            raise EngineCrashed(f"{self.label} stopped while {doing} (exit code {code})")
        if kind == "timeout":
            self._kill()
            raise EngineTimeout(
                f"timed out after {seconds:.0f} s while {doing} in {self.label}: stopped",
                hint="a page or recording that takes this long is stuck (or the deadline is too short "
                "for this machine: see `lantai config show asr.deadline` and `ocr.page_timeout`)",
            )
        return kind, payload

    # ------------------------------------------------------------------ calls

    def call(self, method: str, *args: Any, seconds: float, doing: str = "") -> Any:
        """One call with a single result, within ``seconds``."""
        with self._lock:
            self.start()
            assert self._conn is not None
            self._conn.send((method, args, False))
            _kind, payload = self._receive(time.monotonic() + seconds, doing or method, seconds)
            return payload

    def stream(self, method: str, *args: Any, seconds: float, doing: str = "") -> tuple[Any, Iterator[Any]]:
        """A call that answers (head, items), all of it within ``seconds`` of the call. The
        items are read as the engine makes them; the call holds the engine until they are
        all read, or the iterator is closed (which stops the child)."""
        self._lock.acquire()
        try:
            self.start()
            assert self._conn is not None
            deadline = time.monotonic() + seconds
            what = doing or method
            self._conn.send((method, args, True))
            _kind, head = self._receive(deadline, what, seconds)
        except BaseException:
            self._lock.release()
            raise
        return head, _Stream(self, deadline, what, seconds)

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown
        try:  # noqa: SIM105 - at shutdown, module globals such as contextlib may be gone already
            self.stop()
        except Exception:
            pass


class _Stream(Iterator[Any]):
    """The items of a streaming call, each awaited until the call's deadline."""

    def __init__(self, host: Hosted, deadline: float, doing: str, seconds: float) -> None:
        self.host, self.deadline, self.doing, self.seconds = host, deadline, doing, seconds
        self.open = True

    def __next__(self) -> Any:
        if not self.open:
            raise StopIteration
        try:
            kind, payload = self.host._receive(self.deadline, self.doing, self.seconds)
        except BaseException:
            self._finish(kill=False)  # _receive has stopped the child already
            raise
        if kind == "end":
            self._finish(kill=False)
            raise StopIteration
        return payload

    def _finish(self, *, kill: bool) -> None:
        if self.open:
            self.open = False
            if kill:  # left unread: the child may still be sending
                self.host._kill()
            self.host._lock.release()

    def close(self) -> None:
        self._finish(kill=True)

    def __del__(self) -> None:
        self._finish(kill=True)
