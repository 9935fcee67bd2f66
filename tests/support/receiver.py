"""A platform's webhook receiver for tests: a real HTTP server on loopback, in a
thread, that keeps every request it gets and answers as the test scripts it
(a status per request, or hanging on to a request until released)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)
    """Answers to give, in order; once used up, ``default_status``."""
    default_status: int = 200
    rule: Callable[[Received, list[Received]], int] | None = None
    """Decides each answer from the request and those before it, instead of ``statuses``."""
    hang: threading.Event | None = None
    """While set to an unset event, requests are kept (counted) and not answered until it is set."""
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    """The status given to each request of ``received``, in the same order."""
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        request = Received(headers=headers, body=body)
        with self.arrived:
            earlier = list(self.received)
            if self.rule is not None:
                status = self.rule(request, earlier)
            else:
                status = self.statuses.pop(0) if self.statuses else self.default_status
            self.received.append(request)
            self.answered.append(status)
            self.arrived.notify_all()
        if self.hang is not None:
            self.hang.wait(timeout=60)
        return status

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), (
                f"{len(self.received)} requests arrived, not {count}"
            )


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            status = receiver.answer({k.lower(): v for k, v in self.headers.items()}, body)
            payload = b'{"ok": true}'
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up (a timeout, a killed worker): what it sent is kept

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def receiving(**script: Any) -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Receiver(url="")))
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks", **script)
    server.RequestHandlerClass = _handler(receiver)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.hang is not None:
            receiver.hang.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
