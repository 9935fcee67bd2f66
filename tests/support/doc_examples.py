"""The runnable examples of the Markdown documents, and how their output is checked.

A fenced block whose language is ``bash``, ``sh``, ``shell`` or ``console`` is an example, and
tests/e2e/test_docs_examples.py runs it, in document order, against a live ``sika run``: one
shell session per document, so a variable set by one example is there in the next. The marks
(CONTRIBUTING.md, "Examples that run", says how to write them):

* ``<!-- not run: <reason> -->`` on the line before the fence: the example is not run (it
  installs, starts a server, takes minutes...), and the reason says why;
* ``<!-- run: refused -->``: the example shows a refusal, so an HTTP error does not fail it
  (otherwise every ``curl`` fails on a status of 400 or more); ``<!-- run: poll -->``: a read
  run again, for up to ``POLL_SECONDS``, until its output matches (what a webhook or a job
  finishes); both: ``<!-- run: refused, poll -->``;
* a ```` ```json output ```` or ```` ```text output ```` block right after an example is its
  expected output (see ``json_mismatches`` and ``text_mismatches``); a ``console`` block holds
  its own: the lines after each ``$ `` command;
* ``KEY=…a platform key…`` (a variable set to a value starting with ``…``) is a placeholder
  the reader fills in and the test gives a value of its own (``PLACEHOLDERS`` in the test);
* ``localhost:8000`` and ``localhost:8100`` (the API and the sandbox of ``./scripts/start``)
  are rewritten to the live server's ports.

Any other block (``json``, ``python``, ``text``...) is not run; a fence with no language is a
mistake, and so is a ``curl`` in a block that is not an example.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ELLIPSIS = "…"
SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console"})
OUTPUT_LANGUAGES = frozenset({"json", "text"})
OUTPUT_TAG = "output"
RUN_OPTIONS = frozenset({"refused", "poll"})

ANY = "\x00any"
"""A bare ``…`` value in expected JSON: any value at all."""
MORE = "\x00more"
"""A bare ``…`` element in expected JSON: more elements (or members) may follow."""

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*?)\s*$")
_COMMENT = re.compile(r"^\s*<!--\s*(?P<text>.*?)\s*-->\s*$")
_PLACEHOLDER = re.compile(rf"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)={ELLIPSIS}.*$")
_CURL = re.compile(r"(^|\s|\$ )curl\s")


@dataclass(frozen=True)
class Block:
    """A fenced block of a Markdown document."""

    path: Path
    line: int
    """1-based line of the opening fence."""
    language: str
    tags: tuple[str, ...]
    text: str
    mark: str | None
    """The HTML comment on the line before the fence, without ``<!--`` and ``-->``."""
    follows_block: Block | None
    """The block right before this one, when only blank lines stand between them."""

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


@dataclass(frozen=True)
class Step:
    """One command (or script) to run, and what it must print."""

    where: str
    script: str
    placeholders: frozenset[str]
    expected_json: str | None = None
    expected_text: str | None = None
    refused: bool = False
    poll: bool = False


@dataclass
class Document:
    path: Path
    steps: list[Step] = field(default_factory=list)
    not_run: list[tuple[str, str]] = field(default_factory=list)
    """``(where, reason)`` of each example marked not run."""
    problems: list[str] = field(default_factory=list)
    """Each way the document breaks the convention."""


def blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    found: list[Block] = []
    index = 0
    previous_end = -1
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        end = index + 1
        while end < len(lines) and not re.match(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[end]):
            end += 1
        words = opening["info"].split()
        before = [line for line in lines[previous_end + 1 : index] if line.strip()]
        mark = _COMMENT.match(lines[index - 1]) if index > 0 else None
        found.append(
            Block(
                path=path,
                line=index + 1,
                language=words[0].lower() if words else "",
                tags=tuple(words[1:]),
                text="\n".join(line[indent:] if line[:indent].isspace() else line for line in lines[index + 1 : end]),
                mark=mark["text"] if mark else None,
                follows_block=found[-1] if found and not before else None,
            )
        )
        previous_end = end
        index = end + 1
    return found


def read(path: Path) -> Document:
    """The examples of one document, in order, and what is wrong with its marks."""
    document = Document(path)
    for block in blocks(path):
        if not block.language:
            document.problems.append(f"{block.where}: a fence names its language (```bash, ```text...)")
        elif block.language in SHELL_LANGUAGES:
            _read_example(document, block)
        elif OUTPUT_TAG in block.tags:
            _check_output_block(document, block)
        elif _CURL.search(block.text):
            document.problems.append(f"{block.where}: a curl in a ```{block.language} block is never run: use ```bash")
    return document


def _read_example(document: Document, block: Block) -> None:
    mark = block.mark or ""
    if mark.startswith("not run"):
        reason = mark.removeprefix("not run").lstrip(":").strip()
        if not reason:
            document.problems.append(f"{block.where}: `<!-- not run: ... -->` says why")
        document.not_run.append((block.where, reason))
        return
    options: set[str] = set()
    if mark.startswith("run:"):
        options = {option.strip() for option in mark.removeprefix("run:").split(",")}
        if unknown := options - RUN_OPTIONS:
            document.problems.append(
                f"{block.where}: unknown run option(s) {sorted(unknown)}; known: {sorted(RUN_OPTIONS)}"
            )
    elif block.mark is not None:
        document.problems.append(f"{block.where}: the comment before an example is `not run: <reason>` or `run: ...`")
    commands = _console_commands(block.text) if block.language == "console" else [(block.text, None)]
    for command, output in commands:
        placeholders, script = _placeholders(command)
        if ELLIPSIS in script:
            document.problems.append(
                f"{block.where}: `{ELLIPSIS}` in an example that runs: carry the value in a variable"
                f" (a value the reader fills in is a line of its own: `NAME={ELLIPSIS}what it is{ELLIPSIS}`)"
            )
        document.steps.append(
            Step(
                where=block.where,
                script=script,
                placeholders=placeholders,
                expected_text=output,
                refused="refused" in options,
                poll="poll" in options,
            )
        )


def _check_output_block(document: Document, block: Block) -> None:
    previous = block.follows_block
    if block.language not in OUTPUT_LANGUAGES:
        document.problems.append(f"{block.where}: an output block is ```json output or ```text output")
    elif (
        previous is None
        or previous.language not in SHELL_LANGUAGES - {"console"}
        or (previous.mark or "").startswith("not run")
    ):
        document.problems.append(f"{block.where}: an output block comes right after the example it belongs to")
    elif document.steps and document.steps[-1].where == previous.where:
        step = document.steps[-1]
        if block.language == "json":
            document.steps[-1] = replace(step, expected_json=block.text)
            try:
                parse_expected_json(block.text)
            except ValueError as error:
                document.problems.append(f"{block.where}: not JSON with {ELLIPSIS} placeholders: {error}")
        else:
            document.steps[-1] = replace(step, expected_text=block.text)


def _console_commands(text: str) -> list[tuple[str, str | None]]:
    """``$ command`` lines (continued by a trailing backslash), each with the lines it prints."""
    commands: list[tuple[str, list[str]]] = []
    continued = False
    for line in text.splitlines():
        if continued:
            commands[-1] = (commands[-1][0] + "\n" + line, [])
        elif line.startswith("$ "):
            commands.append((line[2:], []))
        elif commands:
            commands[-1][1].append(line)
        continued = line.endswith("\\") and (continued or line.startswith("$ "))
    return [(command, "\n".join(output) if any(o.strip() for o in output) else None) for command, output in commands]


def _placeholders(script: str) -> tuple[frozenset[str], str]:
    names = set()
    kept = []
    for line in script.splitlines():
        if match := _PLACEHOLDER.match(line):
            names.add(match["name"])
        else:
            kept.append(line)
    return frozenset(names), "\n".join(kept)


def parse_expected_json(text: str) -> list[Any]:
    """The JSON documents of an output block, with ``…`` read as placeholders:

    * a bare ``…`` where a value goes (``"created_at": …``) matches any value;
    * a bare ``…`` as the last element of an array: more elements may follow; as a member of an
      object it only tells the reader that fields are left out (objects are always compared on
      the fields they show);
    * ``…`` inside a string matches any characters there (``"col_…"``, ``"…"``).
    """
    return _json_documents(_mark_ellipses(text))


def _mark_ellipses(text: str) -> str:
    out: list[str] = []
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            in_string = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
        elif char == ELLIPSIS:
            before = "".join(out).rstrip()[-1:]
            if before == ":" or not stack:
                char = json.dumps(ANY)
            elif stack[-1] == "[":
                char = json.dumps(MORE)
            else:
                char = f"{json.dumps(MORE)}: null"
        out.append(char)
    return "".join(out)


def _json_documents(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return documents
        try:
            document, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise ValueError(f"{error.msg} at {text[position : position + 40]!r}") from None
        documents.append(document)


def json_mismatches(expected_text: str, actual_text: str) -> list[str]:
    """How the JSON documents an example printed differ from its output block (none: they match)."""
    expected = parse_expected_json(expected_text)
    try:
        actual = _json_documents(actual_text)
    except ValueError as error:
        return [f"the output is not JSON documents: {error}"]
    if len(actual) != len(expected):
        return [f"printed {len(actual)} JSON document(s), the output block shows {len(expected)}"]
    found: list[str] = []
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        _compare(want, got, f"[{index}]", found)
    return found


def _compare(want: Any, got: Any, where: str, found: list[str]) -> None:
    if want == ANY:
        return
    if isinstance(want, dict):
        if not isinstance(got, dict):
            found.append(f"{where}: expected an object, got {got!r}")
            return
        for key, value in want.items():
            if key == MORE:
                continue
            if key not in got:
                found.append(f"{where}.{key}: missing")
            else:
                _compare(value, got[key], f"{where}.{key}", found)
    elif isinstance(want, list):
        _compare_list(want, got, where, found)
    elif isinstance(want, str) and ELLIPSIS in want:
        pattern = ".*".join(re.escape(part) for part in want.split(ELLIPSIS))
        if not isinstance(got, str) or not re.fullmatch(pattern, got, re.DOTALL):
            found.append(f"{where}: expected {want!r}, got {got!r}")
    elif want != got or isinstance(want, bool) != isinstance(got, bool):
        found.append(f"{where}: expected {want!r}, got {got!r}")


def _compare_list(want: list[Any], got: Any, where: str, found: list[str]) -> None:
    more = bool(want) and want[-1] == MORE
    shown = want[:-1] if more else want
    if not isinstance(got, list) or len(got) < len(shown) or (not more and len(got) != len(shown)):
        found.append(f"{where}: expected {'at least ' if more else ''}{len(shown)} element(s), got {got!r}")
        return
    for index, element in enumerate(shown):
        _compare(element, got[index], f"{where}[{index}]", found)


def text_mismatches(expected_text: str, actual_text: str) -> list[str]:
    """Lines compared in order, blank lines left out; ``…`` in a line matches any characters, and
    a line that is only ``…`` any number of lines."""
    expected = [line.rstrip() for line in expected_text.splitlines() if line.strip()]
    actual = [line.rstrip() for line in actual_text.splitlines() if line.strip()]
    patterns = [
        None if line.strip() == ELLIPSIS else re.compile(".*".join(re.escape(part) for part in line.split(ELLIPSIS)))
        for line in expected
    ]
    if _lines_match(patterns, actual, {}):
        return []
    return ["the output does not match the expected lines:\n" + "\n".join(expected)]


def _lines_match(patterns: list[re.Pattern[str] | None], lines: list[str], seen: dict[tuple[int, int], bool]) -> bool:
    def match(p: int, line: int) -> bool:
        if (p, line) in seen:
            return seen[(p, line)]
        if p == len(patterns):
            result = line == len(lines)
        elif patterns[p] is None:
            result = match(p + 1, line) or (line < len(lines) and match(p, line + 1))
        else:
            pattern = patterns[p]
            assert pattern is not None
            result = line < len(lines) and pattern.fullmatch(lines[line]) is not None and match(p + 1, line + 1)
        seen[(p, line)] = result
        return result

    return match(0, 0)
