"""Reading the tables of the docs, so tests can hold the docs to the code."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
_CODE = re.compile(r"`([^`]+)`")


def section(page: str, heading: str) -> str:
    """The text of the section under ``heading`` (a markdown heading's text) up to the
    next heading of the same or a higher level."""
    text = (DOCS / page).read_text(encoding="utf-8")
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.MULTILINE)
    assert match, f"{page} has no heading {heading!r}"
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every markdown table in ``text``, as a list of rows (dicts keyed by header)."""
    found, current, header = [], [], None
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not all(set(c) <= set("-: ") for c in cells):
                current.append(dict(zip(header, cells, strict=False)))
        elif header is not None:
            found.append(current)
            current, header = [], None
    return found


def code_names(cell: str) -> list[str]:
    """The `backticked` names in a table cell, in order."""
    return _CODE.findall(cell)
