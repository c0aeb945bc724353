"""Sending an NPS survey and reading its links back."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from django.core import mail

from postpurchase import engine, recipes
from postpurchase.models import Message

from ..core.helpers import run_clock
from ..recipes.helpers import PEOPLE, order_event

LINK = re.compile(r'href="(http://127\.0\.0\.1:8000/postpurchase/nps/[^"]+)"')


def survey_links(body: str) -> list[str]:
    """The NPS links of an email's HTML, in order, unescaped."""
    return [html.unescape(url) for url in LINK.findall(body)]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def send_survey(frozen, locale: str = "en", number: str = "1001") -> tuple[Message, list[str]]:
    """Install the survey recipe live, deliver an order, run the clock until the survey
    goes out; return its message and its eleven links (paths)."""
    recipes.install("nps-survey", live=True)
    order_event("order_delivered", locale, number=number)
    run_clock(frozen, days=12)
    email = PEOPLE[locale][0]
    message = Message.objects.get(to_email=email, status="sent")
    [sent] = [m for m in mail.outbox if any(email in to for to in m.to)]
    return message, [path_of(u) for u in survey_links(sent.alternatives[0][0])]


def run_now() -> None:
    engine.run_due()
