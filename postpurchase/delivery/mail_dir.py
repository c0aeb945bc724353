"""A readable copy of each email the app sends on disk, when ``MAIL_DIR`` is set (demo,
dev): customers' emails, staff notifications and test sends from the admin alike."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from postpurchase.conf import get_setting
from postpurchase.email.rendering import RenderedEmail
from postpurchase.models import Message

logger = logging.getLogger("postpurchase.delivery")


def write_mail_copy(stem: str, to: str, subject: str, text: str, html: str = "") -> str:
    """Write ``<stem>.txt`` (headers and text) and, if there is HTML, ``<stem>.html`` to
    MAIL_DIR; returns the .txt file's name ("" without MAIL_DIR or on a disk error,
    which is logged: a copy must never fail a send)."""
    folder = get_setting("MAIL_DIR")
    if not folder:
        return ""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if html:
            (path / f"{stem}.html").write_text(html, encoding="utf-8")
        (path / f"{stem}.txt").write_text(
            f"To: {to}\nSubject: {subject}\n\n{text}", encoding="utf-8"
        )
    except OSError:
        logger.exception("postpurchase: cannot write a copy of %s to %s", stem, folder)
        return ""
    return f"{stem}.txt"


def copy_stem(moment: datetime, kind: str, ident: object) -> str:
    """``20261123-100000-staff-<id>``: sorts by time, tells the kinds apart."""
    return f"{moment:%Y%m%d-%H%M%S}-{kind}-{ident}"


def write_to_mail_dir(message: Message, rendered: RenderedEmail, html: str | None = None) -> None:
    """A copy of a sent message; ``html`` is the HTML as sent (tracked links and all),
    else the rendered one."""
    write_mail_copy(
        f"{message.sent_at:%Y%m%d-%H%M%S}-{message.pk}",
        message.to_email,
        rendered.subject,
        rendered.text,
        rendered.html if html is None else html,
    )
