"""A readable copy of each sent email on disk, when ``MAIL_DIR`` is set (demo, dev)."""

from __future__ import annotations

import logging
from pathlib import Path

from postpurchase.conf import get_setting
from postpurchase.email.rendering import RenderedEmail
from postpurchase.models import Message

logger = logging.getLogger("postpurchase.delivery")


def write_to_mail_dir(message: Message, rendered: RenderedEmail) -> None:
    folder = get_setting("MAIL_DIR")
    if not folder:
        return
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        stem = f"{message.sent_at:%Y%m%d-%H%M%S}-{message.pk}"
        (path / f"{stem}.html").write_text(rendered.html, encoding="utf-8")
        (path / f"{stem}.txt").write_text(
            f"To: {message.to_email}\nSubject: {rendered.subject}\n\n{rendered.text}",
            encoding="utf-8",
        )
    except OSError:
        logger.exception("postpurchase: cannot write a copy of %s to %s", message.pk, folder)
