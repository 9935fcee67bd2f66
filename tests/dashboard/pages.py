"""Reading the numbers back off the dashboard's HTML, by the ids and data
attributes its templates put on them."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]+>")


def _text(fragment: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def tile(page: str, name: str) -> tuple[str, str]:
    """(value, detail) of an overview tile."""
    found = re.search(rf'id="tile-{name}">(.*?)</a>', page, re.DOTALL)
    assert found is not None, name
    value = re.search(r'class="tile-value">(.*?)</span>', found.group(1), re.DOTALL)
    detail = re.search(r'class="tile-detail">(.*?)</span>', found.group(1), re.DOTALL)
    assert value is not None
    return _text(value.group(1)), _text(detail.group(1)) if detail else ""


def bars(page: str) -> dict[tuple[str, str], int]:
    """(ISO day, series) → the value each bar of the chart is drawn for."""
    found = re.findall(
        r'<rect class="bar bar-\w+" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" '
        r'data-day="([\d-]+)" data-series="(\w+)" data-value="(\d+)">',
        page,
    )
    return {(day, series): int(value) for day, series, value in found}


def bar_heights(page: str) -> dict[tuple[str, str], float]:
    found = re.findall(
        r'<rect class="bar bar-\w+" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" '
        r'data-day="([\d-]+)" data-series="(\w+)"',
        page,
    )
    return {(day, series): float(height) for height, day, series in found}


def row_cells(page: str, attribute: str, value: str) -> list[str]:
    """The texts of the cells of the table row ``<tr {attribute}="{value}">``."""
    found = re.search(rf'<tr {attribute}="{re.escape(value)}">(.*?)</tr>', page, re.DOTALL)
    assert found is not None, f"{attribute}={value}"
    return [_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", found.group(1), re.DOTALL)]


def row_ids(page: str, table_id: str, attribute: str) -> list[str]:
    """The ``attribute`` of every row of the table ``table_id``, in page order."""
    found = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.DOTALL)
    if found is None:
        return []
    return re.findall(rf'<tr {attribute}="([^"]+)">', found.group(1))


def status_cells(page: str, provider: str) -> dict[str, str]:
    found = re.search(rf'<tr data-provider="{provider}">(.*?)</tr>', page, re.DOTALL)
    assert found is not None, provider
    return dict(re.findall(r'data-status="(\w+)">([^<]*)<', found.group(1)))


def text(page: str) -> str:
    """The page's visible words, tags removed, spaces collapsed."""
    body = re.sub(r"<(script|style|title|desc)[^>]*>.*?</\1>", " ", page, flags=re.DOTALL)
    return _text(body)


def money_figures(html: str, platform_id: str) -> dict[str, int]:
    """The XOF row of ``platform_id`` in the overview's money table, in minor units."""
    row = re.search(rf'<tr data-platform="{platform_id}" data-currency="XOF">(.*?)</tr>', html, re.DOTALL)
    assert row is not None, text(html)[:2000]
    found = dict(re.findall(r'data-figure="(\w+)" data-minor="(-?\d+)"', row.group(1)))
    return {name: int(value) for name, value in found.items()}
