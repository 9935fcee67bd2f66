"""How ``sika run`` serves HTTP: on uvloop's event loop with httptools' parser,
both in C, where asyncio's own loop and h11 spend a few hundred µs of Python
on every request. (uvicorn picks them itself only when it makes the loop;
``sika run`` makes it.)"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import uvloop

HTTP_PARSER = "httptools"
"""uvicorn's ``http`` option for ``sika run``."""


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` to its end on a new uvloop event loop."""
    uvloop.run(main)


def described() -> str:
    """What serves, read from the running loop: for the banner."""
    loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]
    return f"{loop} event loop, {HTTP_PARSER} HTTP parser"
