"""Keeping customers' addresses and names out of logs and error texts.

Log lines and exception messages travel to log aggregators and error trackers that
people outside customer care read: they carry ids (message, enrollment, contact), never
an address or a name. An ESP's or a library's error text, though, often quotes the
recipient ("Invalid 'To' address: anna@example.com"); :func:`redact` takes those out
before the text is stored or logged. A leaf module: models may use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Anything shaped like local@domain: deliberately loose, it only has to catch addresses.
_ADDRESS = re.compile(r"[^\s<>()\[\]{}'\",;:]+@[^\s<>()\[\]{}'\",;:]*")

ADDRESS_MARK = "<address>"
NAME_MARK = "<name>"


def redact(text: str, names: Iterable[str] = ()) -> str:
    """``text`` with every email address and each of ``names`` (whole words, any case)
    replaced by a placeholder."""
    text = _ADDRESS.sub(ADDRESS_MARK, text)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len)[::-1]:
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", NAME_MARK, text, flags=re.IGNORECASE)
    return text


def contact_names(contact) -> list[str]:
    """The strings of a contact that :func:`redact` should hide besides its address."""
    first = getattr(contact, "first_name", "") or ""
    last = getattr(contact, "last_name", "") or ""
    return [f"{first} {last}".strip(), first, last]
