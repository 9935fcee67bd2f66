"""A serving process fits the garbage collector to a server
(``serving.tune_garbage_collection``): what start-up built is left out of its
collections, so that a full collection walks what the requests made, not the
whole app, and young collections come less often. Each check runs in a process
of its own: freezing this one would keep the tests' own objects forever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from sika.core import serving


def run_python(code: str, **env: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    counts: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    return counts


def test_the_uvicorn_factory_freezes_the_app_it_built_and_collects_the_young_less_often(database_url: str) -> None:
    counts = run_python(
        """
        import gc, json
        from sika import asgi
        app = asgi.create()
        print(json.dumps({"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects()),
                          "young_threshold": gc.get_threshold()[0]}))
        """,
        DATABASE_URL=database_url,
    )
    # The app alone is some 260,000 objects; a collection now walks a few thousand.
    assert counts["frozen"] > 100_000
    assert counts["walked"] < counts["frozen"] / 10
    assert counts["young_threshold"] == serving.YOUNG_COLLECTION_THRESHOLD


def test_start_ups_own_garbage_is_collected_not_frozen() -> None:
    counts = run_python(
        """
        import gc, json, weakref
        from sika.core import serving

        class Node:
            pass

        gc.disable()  # so that only the freeze's own collection can find the cycle
        node = Node()
        node.self = node
        alive = Node()
        gone, kept = weakref.ref(node), weakref.ref(alive)
        del node
        serving.tune_garbage_collection()
        print(json.dumps({"cycle_left": gone() is not None, "live_left": kept() is not None,
                          "frozen": gc.get_freeze_count()}))
        """
    )
    assert (counts["cycle_left"], counts["live_left"]) == (False, True)
    assert counts["frozen"] > 0
