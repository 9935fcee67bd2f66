"""How ``sika run`` serves: HTTP on uvloop's event loop with httptools' parser,
both in C, where asyncio's own loop and h11 spend a few hundred µs of Python
on every request. (uvicorn picks them itself only when it makes the loop;
``sika run`` makes it.) ``sika worker`` runs on uvloop too: a job's every round
trip to PostgreSQL waits on the loop. The job worker beside the API, as a child
process. And what every serving process does once it is built:
``tune_garbage_collection``."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import uvloop

HTTP_PARSER = "httptools"
"""uvicorn's ``http`` option for ``sika run``."""
WORKER_STOP_SECONDS = 20.0
"""How long `sika run` waits, once the API has stopped, for its worker process to finish
the jobs it runs (it stops taking new ones at once) before killing it: an interrupted job
is retried, so the wait is bounded rather than complete."""
PR_SET_PDEATHSIG = 1
"""prctl(2): the signal the kernel sends a process when its parent dies."""


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` to its end on a new uvloop event loop."""
    uvloop.run(main)


YOUNG_COLLECTION_THRESHOLD = 10_000
"""Allocations of containers between two young collections (Python's default: 700)."""


def tune_garbage_collection() -> None:
    """Fit Python's garbage collector to a server, once the process is built.

    What start-up built (the imported modules, the app, its routes, models and
    schemas: some 260,000 objects that live as long as the process) is frozen,
    left out of every later collection. A full collection walks every object it
    tracks, so each one paused the API for about 150 ms, and at a steady load one
    came every few thousand requests. Start-up's own garbage is collected first,
    since frozen garbage would stay.

    A request allocates some hundreds of containers, nearly all freed with it by
    reference counting; at the default threshold a young collection came every ten
    requests or so and walked the coroutines of every request in flight, each time
    again (about 0.5 ms). At ``YOUNG_COLLECTION_THRESHOLD`` they come ten times
    less often and the collector's time per request halves (docs/performance.md,
    "Garbage collection").

    For a process's entry point only: in a process that builds apps over and over
    (the tests), what is frozen would never be collected."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, oldest)


def described() -> str:
    """What serves, read from the running loop: for the banner."""
    loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]
    return f"{loop} event loop, {HTTP_PARSER} HTTP parser"


def start_worker(url: str, *, concurrency: int) -> subprocess.Popen[bytes]:
    """``sika worker`` in a process of its own, on the same database: a busy API cannot
    starve it of its event loop (in one process, webhooks waited behind every request).
    It shares this process's output, and dies with it even if this process is killed."""
    command = [sys.executable, "-m", "sika", "worker", "--concurrency", str(concurrency)]
    # Our own interpreter and fixed arguments: no outside text reaches the command line.
    return subprocess.Popen(command, env={**os.environ, "DATABASE_URL": url}, preexec_fn=_die_with_parent())  # noqa: S603


def _die_with_parent() -> Callable[[], None] | None:
    """What the child runs between fork and exec to get SIGTERM when this process dies
    (Linux). libc is loaded here, before the fork: the child only makes the one call."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def ask_for_sigterm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return ask_for_sigterm


def stop_worker(worker: subprocess.Popen[bytes]) -> bool:
    """SIGTERM (the worker finishes its running jobs), then SIGKILL after
    WORKER_STOP_SECONDS; False when it had to be killed."""
    if worker.poll() is not None:
        return True
    worker.terminate()
    try:
        worker.wait(timeout=WORKER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        return False
    return True
