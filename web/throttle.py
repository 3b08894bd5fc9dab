"""Sign-in throttling: after a few failed attempts for an account or from a client address,
each further attempt must wait, doubling from one second up to a cap; and only a few
password checks (argon2id, 64 MiB each) run at once, so a flood of sign-ins cannot starve
the other pages. Kept in the web process's memory: one `lantai serve` process decides."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MAX_KEYS = 50_000  # the oldest entries are forgotten beyond this (bounded memory under a flood)


@dataclass
class _State:
    failures: int = 0
    locked_until: float = 0.0


class SignInThrottle:
    def __init__(
        self, *, free: int, cap: float, slots: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.free, self.cap, self.clock = free, cap, clock
        self.slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._state: OrderedDict[str, _State] = OrderedDict()

    def wait(self, keys: Iterable[str], now: float | None = None) -> float:
        """Seconds until an attempt for these keys (account, address) is allowed; 0 now."""
        now = self.clock() if now is None else now
        with self._lock:
            waits = [s.locked_until - now for k in keys if (s := self._state.get(k)) is not None]
        return max([0.0, *waits])

    def failed(self, keys: Iterable[str], now: float | None = None) -> float:
        """Count a failed attempt; returns the lockout it starts (0 while attempts are free)."""
        now = self.clock() if now is None else now
        longest = 0.0
        with self._lock:
            for key in keys:
                state = self._state.pop(key, None) or _State()
                state.failures += 1
                over = state.failures - self.free
                if over > 0:
                    lock = min(self.cap, 2.0 ** (over - 1))
                    state.locked_until = now + lock
                    longest = max(longest, lock)
                self._state[key] = state
            while len(self._state) > MAX_KEYS:
                self._state.popitem(last=False)
        return longest

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._state.pop(key, None)
