"""Docs that run: every shell example of the README and docs/ is run, in document order,
against a live ``sika run`` (API, worker and sandbox), and its output checked; every one that
is not run says why. The marks are explained in tests/support/doc_examples.py and in
CONTRIBUTING.md ("Examples that run")."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import doc_examples
from tests.support.doc_examples import Step
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
"""In this order: the README's quick start first, as a new user meets it."""

TOOLS = ("bash", "curl", "jq")
"""What the examples call; scripts/test installs the missing ones with apt-get when it may."""
STARTUP_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 30
STEP_TIMEOUT_SECONDS = 60
POLL_SECONDS = 30
POLL_INTERVAL_SECONDS = 0.5
CURL_MAX_TIME_SECONDS = 30
DOCUMENTED_API = ("localhost:8000", "127.0.0.1:8000")
DOCUMENTED_SANDBOX = ("localhost:8100", "127.0.0.1:8100")

PRELUDE = """set -a
source "$DOCS_STATE"
set -eo pipefail
trap 'export -p > "$DOCS_STATE"' EXIT
"""
"""Every variable an example sets is exported, and the exported ones are saved for the next
example of the document: one shell session per document, in steps."""
CURL_FAILS = f'curl() {{ command curl --fail-with-body --show-error --max-time {CURL_MAX_TIME_SECONDS} "$@"; }}\n'
"""Outside ``run: refused`` an HTTP error fails the example (``curl -s`` alone exits 0 on a 409)."""


@dataclass
class LiveSika:
    folder: Path
    """Where ``sika run`` runs, as a checkout would: ``.sika/`` (data, admin key) and ``.venv``."""
    api_port: int
    sandbox_port: int
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def admin_key(self) -> str:
        return (self.folder / ".sika" / "admin-key").read_text().strip()

    def localise(self, text: str) -> str:
        """The documents' ``./scripts/start`` addresses, made this server's."""
        for documented in DOCUMENTED_API:
            text = text.replace(documented, f"127.0.0.1:{self.api_port}")
        for documented in DOCUMENTED_SANDBOX:
            text = text.replace(documented, f"127.0.0.1:{self.sandbox_port}")
        return text


@contextmanager
def live_sika() -> Iterator[LiveSika]:
    """``sika run`` with its defaults but the ports, in a folder of its own, stopped at the end."""
    folder = Path(tempfile.mkdtemp(prefix="sika-docs-"))
    (folder / ".venv").symlink_to(Path(sys.prefix))
    api_port, sandbox_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("SIKA_")},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SIKA_PORT": str(api_port),
        "SIKA_SANDBOX_PORT": str(sandbox_port),
    }
    log_path = folder / "sika-run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sika", "run"],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    live = LiveSika(folder, api_port, sandbox_port, env)
    try:
        _wait_ready(live, process, log_path)
        yield live
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(live: LiveSika, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()[-3000:]
        try:
            if httpx.get(f"{live.url}/ready", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"sika run was not ready in {STARTUP_TIMEOUT_SECONDS} s:\n{log_path.read_text()[-3000:]}")


def _platform_key(live: LiveSika, name: str) -> str:
    """A key of the installation's first platform, for the ``KEY=…`` of one document: each
    document has its own, so the Idempotency-Keys of two documents never meet."""
    answer = httpx.post(
        f"{live.url}/v1/api-keys",
        headers={"Authorization": f"Bearer {live.admin_key}", "Idempotency-Key": f"docs-{name}"},
        json={"name": f"docs examples: {name}", "scopes": ["platform"], "platform_id": "plt_default"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    secret: str = answer.json()["secret"]
    return secret


def _placeholder_values(live: LiveSika, path: Path, names: set[str]) -> tuple[dict[str, str], list[str]]:
    makers = {"KEY": lambda: _platform_key(live, path.name), "ADMIN_KEY": lambda: live.admin_key}
    unknown = sorted(names - makers.keys())
    problems = [f"{path.name}: placeholder(s) {unknown} have no value in the test (PLACEHOLDERS: {sorted(makers)})"]
    return {name: makers[name]() for name in names & makers.keys()}, problems if unknown else []


def _run(live: LiveSika, state: Path, step: Step) -> subprocess.CompletedProcess[str]:
    script = PRELUDE + ("" if step.refused else CURL_FAILS) + live.localise(step.script)
    return subprocess.run(
        ["bash", "-c", script],
        cwd=live.folder,
        env={**live.env, "DOCS_STATE": str(state)},
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_SECONDS,
        check=False,
    )


def _mismatches(live: LiveSika, step: Step, done: subprocess.CompletedProcess[str]) -> list[str]:
    if done.returncode != 0:
        return [f"exited {done.returncode}"]
    if step.expected_json is not None:
        return doc_examples.json_mismatches(step.expected_json, done.stdout)
    if step.expected_text is not None:
        return doc_examples.text_mismatches(live.localise(step.expected_text), done.stdout)
    return []


def _run_document(live: LiveSika, path: Path) -> list[str]:
    """Runs the document's examples in order, up to the first that fails (the rest build on it)."""
    steps = doc_examples.read(path).steps
    if not steps:
        return []
    values, problems = _placeholder_values(live, path, {name for step in steps for name in step.placeholders})
    if problems:
        return problems
    state = live.folder / f"{path.stem}.state"
    state.write_text("".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items()))
    for step in steps:
        deadline = time.monotonic() + (POLL_SECONDS if step.poll else 0)
        while True:
            done = _run(live, state, step)
            mismatches = _mismatches(live, step, done)
            if not mismatches or time.monotonic() > deadline:
                break
            time.sleep(POLL_INTERVAL_SECONDS)
        if mismatches:
            return [
                f"{step.where}: " + "\n".join(mismatches) + f"\n--- the example\n{step.script}"
                f"\n--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
            ]
    return []


def test_every_shell_block_is_run_or_says_why_not() -> None:
    """A new example cannot slip in unchecked: each ```bash/sh/shell/console block is run, or
    marked ``<!-- not run: <reason> -->``, and the marks themselves hold."""
    documents = [doc_examples.read(path) for path in DOCUMENTS]
    assert [problem for document in documents for problem in document.problems] == []
    for document in documents:
        for where, reason in document.not_run:
            assert reason, where
    assert sum(len(document.steps) for document in documents) > 0


def test_the_documents_examples_run_against_a_live_sika() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"the docs' examples need {missing} (scripts/test installs them with apt-get when run as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with live_sika() as live:
        failures = [failure for path in DOCUMENTS for failure in _run_document(live, path)]
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


def test_expected_json_compares_the_fields_shown_with_placeholders() -> None:
    expected = '{"id": "col_…", "status": "succeeded", "failure": null, "data": [{"n": 1}, …], "at": …, …}'
    assert (
        doc_examples.json_mismatches(
            expected,
            '{"id": "col_x1", "status": "succeeded", "failure": null, "data": [{"n": 1, "m": 2}, 3], "at": 5, "x": 0}',
        )
        == []
    )
    assert doc_examples.json_mismatches(expected, '{"id": "pty_x1", "status": "failed", "data": [], "at": 5}') == [
        "[0].id: expected 'col_…', got 'pty_x1'",
        "[0].status: expected 'succeeded', got 'failed'",
        "[0].failure: missing",
        "[0].data: expected at least 1 element(s), got []",
    ]
    assert doc_examples.json_mismatches('{"n": 1}', '{"n": true}') == ["[0].n: expected 1, got True"]
    assert doc_examples.json_mismatches("[1, 2]", "[1, 2, 3]") == ["[0]: expected 2 element(s), got [1, 2, 3]"]
    assert doc_examples.json_mismatches('{"a": 1}\n{"b": 2}', '{"a": 1}{"b": 2}') == []
    assert doc_examples.json_mismatches('{"a": 1}', '{"a": 1}{"b": 2}') == [
        "printed 2 JSON document(s), the output block shows 1"
    ]
    assert doc_examples.json_mismatches('{"a": 1}', "Internal Server Error") != []


def test_expected_text_matches_lines_with_placeholders() -> None:
    assert (
        doc_examples.text_mismatches("Created key_… with …\n…\nsika_…", "Created key_ab with x\n\nSecret:\nsika_1")
        == []
    )
    assert doc_examples.text_mismatches("a\n…\nz", "a\nb\nc") != []
    assert doc_examples.text_mismatches("200", "200\n401") != []


def test_the_marks_are_read_and_their_mistakes_named(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- not run: it installs -->\n```bash\n./scripts/start\n```\n\n"
        "```bash\nKEY=…a platform key…\nW=$(curl -s localhost:8000/v1/wallets/1 | jq -r .id)\n```\n\n"
        '```json output\n{"id": "wal_…", …}\n```\n\n'
        "<!-- run: refused, poll -->\n```sh\ncurl -s localhost:8000/x\n```\n\n"
        "```console\n$ curl -X PUT localhost:8100/a \\\n    -d '{}'\n{\"forced\":{}}\n$ sika check\n```\n\n"
        "<!-- not run -->\n```bash\nx\n```\n\n"
        "<!-- run: often -->\n```bash\ny\n```\n\n"
        '```bash\ncurl -d \'{"id": "wal_…"}\' localhost:8000/v1\n```\n\n'
        "```\nplain\n```\n\n"
        "```text\ncurl localhost:8000/ready\n```\n\n"
        "Prose.\n\n```json output\n{}\n```\n"
    )
    document = doc_examples.read(page)
    assert document.not_run == [("page.md:2", "it installs"), ("page.md:28", "")]
    steps = [(s.where, s.placeholders, s.expected_json, s.expected_text, s.refused, s.poll) for s in document.steps]
    assert steps[:4] == [
        ("page.md:6", frozenset({"KEY"}), '{"id": "wal_…", …}', None, False, False),
        ("page.md:16", frozenset(), None, None, True, True),
        ("page.md:20", frozenset(), None, '{"forced":{}}', False, False),
        ("page.md:20", frozenset(), None, None, False, False),
    ]
    assert document.steps[2].script == "curl -X PUT localhost:8100/a \\\n    -d '{}'"
    assert document.problems == [
        "page.md:28: `<!-- not run: ... -->` says why",
        "page.md:33: unknown run option(s) ['often']; known: ['poll', 'refused']",
        "page.md:37: `…` in an example that runs: carry the value in a variable"
        " (a value the reader fills in is a line of its own: `NAME=…what it is…`)",
        "page.md:41: a fence names its language (```bash, ```text...)",
        "page.md:45: a curl in a ```text block is never run: use ```bash",
        "page.md:51: an output block comes right after the example it belongs to",
    ]
