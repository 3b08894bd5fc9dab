"""How a flow runs: tracked by a Prefect server, or in this process.

The worker's deployments and a configured server (``PREFECT_API_URL``) track every flow
and task run. A command-line run with no server configured used to start Prefect's
temporary API server first (~8 s on every command, more than the work of ingesting one
file); it now reuses the local server of a running ``lantai worker`` when one answers, and
otherwise runs the flow's function in this process: the same code, with the tasks'
retries applied here, and Lantai's own events and run records as its history.

Flows and tasks are declared with :func:`flow` and :func:`task` below, which take
Prefect's options and make the Prefect objects on first use: a command that runs in-process
does not import Prefect at all (~0.7 s of every command's start). Work-pool deployments
load the Prefect objects from ``flows/deployments.py``.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

log = logging.getLogger("lantai.flows")

WORKER_PORT = 4200  # `lantai worker`'s default port for the local Prefect server


class _Lazy:
    """A Prefect flow or task made on first use from the function and Prefect's options.
    ``fn`` (the plain function), ``name`` and ``options`` need no Prefect; anything else —
    calling it, ``to_deployment``, ``with_options`` — makes the Prefect object and uses it."""

    def __init__(self, fn: Callable[..., Any], options: dict[str, Any]) -> None:
        functools.update_wrapper(self, fn)
        self.fn, self.options = fn, options
        self.name: str = options.get("name") or self._default_name(fn)
        self._made: Any = None

    @staticmethod
    def _default_name(fn: Callable[..., Any]) -> str:
        return fn.__name__

    def _make(self) -> Any:
        raise NotImplementedError

    @property
    def prefect(self) -> Any:
        """The Prefect object."""
        if self._made is None:
            self._made = self._make()
        return self._made

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.prefect(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr in ("fn", "options", "name", "_made"):
            raise AttributeError(attr)
        return getattr(self.prefect, attr)


class LazyFlow(_Lazy):
    @staticmethod
    def _default_name(fn: Callable[..., Any]) -> str:
        return fn.__name__.replace("_", "-")  # Prefect's default flow name

    def _make(self) -> Any:
        from prefect import flow as prefect_flow

        return prefect_flow(**self.options)(self.fn)


class LazyTask(_Lazy):
    def _make(self) -> Any:
        from prefect import task as prefect_task

        options = dict(self.options)
        if options.pop("no_cache", False):  # arguments that are not values (stores, reports)
            from prefect.cache_policies import NO_CACHE

            options["cache_policy"] = NO_CACHE
        return prefect_task(**options)(self.fn)

    def policy(self) -> tuple[int, Any, Any]:
        """(retries, retry_delay_seconds, retry_condition_fn) as Prefect would apply them."""
        o = self.options
        return int(o.get("retries") or 0), o.get("retry_delay_seconds") or 0, o.get("retry_condition_fn")


def flow(**options: Any) -> Callable[[Callable[..., Any]], LazyFlow]:
    """``@flow(name=…, …)``: Prefect's ``@flow`` options, the Prefect flow made on first use."""
    return lambda fn: LazyFlow(fn, options)


def task(**options: Any) -> Callable[[Callable[..., Any]], LazyTask]:
    """``@task(retries=…, …)``: Prefect's ``@task`` options (and ``no_cache=True`` for
    ``cache_policy=NO_CACHE``), the Prefect task made on first use."""
    return lambda fn: LazyTask(fn, options)


def in_run() -> bool:
    """Whether this code runs inside a tracked flow or task run."""
    if "prefect.context" not in sys.modules:
        return False  # Prefect not even imported: no run can be tracking this
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger in a tracked run; Lantai's flow logger otherwise."""
    if in_run():
        from prefect import get_run_logger

        return get_run_logger()
    return log


def _local_server(port: int) -> str | None:
    """The API URL of the local Prefect server a `lantai worker` started, if it answers."""
    url = f"http://127.0.0.1:{port}/api"
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=0.3) as r:
            return url if r.status == 200 else None
    except OSError:
        return None


def tracking(port: int = WORKER_PORT) -> AbstractContextManager[Any] | None:
    """How a command-line flow run is tracked: ``nullcontext`` when a server is configured
    or already tracking, a temporary setting pointing at a running worker's local server,
    or None (run in-process, untracked)."""
    if os.environ.get("PREFECT_API_URL") or in_run():
        return nullcontext()
    url = _local_server(port)
    if url is None:
        return None
    from prefect.settings import PREFECT_API_URL, temporary_settings

    return temporary_settings(updates={PREFECT_API_URL: url})


def run_flow(flow_obj: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a flow: tracked when a server can track it (or as a subflow of a tracked run),
    in this process otherwise."""
    context = tracking()
    if context is None:
        return flow_obj.fn(*args, **kwargs)
    with context:
        return flow_obj(*args, **kwargs)


def run_task(task_obj: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a task and return its result, raising its exception after the retries: a tracked
    task run inside a tracked flow run, the function with the same retry policy otherwise."""
    if in_run():
        state = task_obj(*args, return_state=True, **kwargs)
        if state.is_failed() or state.is_crashed():
            exc = state.result(raise_on_failure=False)
            raise exc if isinstance(exc, BaseException) else RuntimeError(str(exc))
        return state.result()
    return _with_retries(task_obj, task_obj.fn, args, kwargs)


class _FailedState:
    """What a ``retry_condition_fn`` reads: the exception as the state's data."""

    def __init__(self, exc: BaseException) -> None:
        self.data = exc

    def result(self, raise_on_failure: bool = True) -> BaseException:
        """As Prefect's ``State.result``: the exception (raised unless told not to)."""
        if raise_on_failure:
            raise self.data
        return self.data


def _with_retries(task_obj: LazyTask, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    retries, delays, condition = task_obj.policy()
    for attempt in range(retries + 1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if attempt == retries or (
                condition is not None and not condition(task_obj, None, _FailedState(exc))
            ):
                raise
            delay = delays[min(attempt, len(delays) - 1)] if isinstance(delays, list) else float(delays)
            log.warning(
                "%s failed (%s); retry %d of %d in %.0f s", task_obj.name, exc, attempt + 1, retries, delay
            )
            time.sleep(delay)
    raise AssertionError("unreachable")
