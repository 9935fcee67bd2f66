"""A serving process leaves what start-up built out of its garbage collections
(``serving.freeze_startup_objects``), so that a full collection walks what the
requests made, not the whole app. Each check runs in a process of its own:
freezing this one would keep the tests' own objects forever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap


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


def test_the_uvicorn_factory_freezes_the_app_it_built(database_url: str) -> None:
    counts = run_python(
        """
        import gc, json
        from sika import asgi
        app = asgi.create()
        print(json.dumps({"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects())}))
        """,
        DATABASE_URL=database_url,
    )
    # The app alone is some 260,000 objects; a collection now walks a few thousand.
    assert counts["frozen"] > 100_000
    assert counts["walked"] < counts["frozen"] / 10


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
        serving.freeze_startup_objects()
        print(json.dumps({"cycle_left": gone() is not None, "live_left": kept() is not None,
                          "frozen": gc.get_freeze_count()}))
        """
    )
    assert counts == {"cycle_left": False, "live_left": True, "frozen": counts["frozen"]}
    assert counts["frozen"] > 0
