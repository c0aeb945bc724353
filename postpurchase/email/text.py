"""Plain-text alternative of an email, derived from its rendered MJML (or any HTML).

Regular expressions rather than an HTML parser: the input is machine-made and regular,
and this runs once per email. Working on the MJML source rather than the HTML that
MRML makes from it reads a third of the bytes (MRML adds wrapper tables and Outlook
conditionals), and MJML says what is a button or an image outright.
"""

from __future__ import annotations

import html
import re

_HEAD = re.compile(r"<(mj-head|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_DROP = re.compile(
    r"<!--.*?-->|<(style|script|title|mj-preview|mj-style|mj-attributes)\b.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)
_IMG = re.compile(r"<(?:img|mj-image)\b[^>]*?>", re.IGNORECASE)
_ALT = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
# <a href> and MJML elements with an href (mj-button, mj-social-element, mj-navbar-link).
_LINK = re.compile(
    r"""<(a|mj-[a-z-]+)\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>(.*?)</\1\s*>""",
    re.IGNORECASE | re.DOTALL,
)
_BLOCK = re.compile(
    r"</?(?:p|div|br|tr|table|h[1-6]|li|ul|ol|section|header|footer|hr"
    r"|mj-(?:section|column|text|table|button|divider|spacer|hero|wrapper|group))\b[^>]*>",
    re.IGNORECASE,
)
_CELL = re.compile(r"</?td\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINE_EDGES = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n{3,}")


def _image(match: re.Match) -> str:
    tag = match.group(0)
    alt = _ALT.search(tag)
    text = (alt.group(1) or alt.group(2) or "") if alt else ""
    # An mj-image stands on its own line; an <img> may sit inside a sentence.
    return f"\n{text}\n" if text and tag[1:3].lower() == "mj" else text


def _link(match: re.Match) -> str:
    href = html.unescape(match.group(2) or match.group(3) or "").strip()
    label = " ".join(_TAG.sub(" ", match.group(4)).split())
    if not label:
        return ""  # an image-only link (product picture): its neighbours carry the URL
    block = "\n" if match.group(1).lower() != "a" else ""
    if href.startswith(("http://", "https://")) and html.unescape(label) != href:
        return f"{block}{label} ({href}){block}"
    return f"{block}{label}{block}"


def html_to_text(source: str) -> str:
    """Readable text of an email (MJML or HTML): paragraphs kept, links as
    ``label (url)``, images as their alt text."""
    text = _HEAD.sub("", source, count=1)
    text = _DROP.sub("", text)
    text = _IMG.sub(_image, text)
    text = _LINK.sub(_link, text)
    text = _BLOCK.sub("\n", text)
    text = _CELL.sub(" ", text)
    text = html.unescape(_TAG.sub("", text))
    text = _LINE_EDGES.sub("\n", _SPACES.sub(" ", text))
    return _BLANK_LINES.sub("\n\n", text).strip() + "\n"
