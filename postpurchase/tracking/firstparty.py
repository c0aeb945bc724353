"""Recording a hit of a first-party tracked link (:mod:`postpurchase.tracking.links`):
the open pixel or a click, GET or HEAD, as a MessageEvent of ESP ``first-party``,
through the same recording, classification and roll-ups as an ESP's events."""

from __future__ import annotations

import logging
import uuid

from anymail.signals import AnymailTrackingEvent, EventType
from django.http import HttpRequest

from postpurchase import clock
from postpurchase.delivery.compose import META_MESSAGE
from postpurchase.models import MessageEvent
from postpurchase.public import ratelimit
from postpurchase.public.tokens import TrackToken
from postpurchase.tracking.classify import FIRST_PARTY
from postpurchase.tracking.record import record

logger = logging.getLogger("postpurchase.tracking")

#: Hits recorded per message and hour: a client fetching the pixel in a loop must not
#: fill the table. Further hits are served and not recorded.
HITS = ratelimit.Limit("track-hit", attempts=100, window=3600)


def record_hit(request: HttpRequest, link: TrackToken) -> MessageEvent | None:
    """Record ``request`` for the tracked ``link`` (an open when it has no URL, else a
    click); None when nothing was recorded (the message is gone, too many hits)."""
    if not ratelimit.take(HITS, link.message_id):
        logger.debug("postpurchase: too many tracked hits of message %s", link.message_id)
        return None
    method = "HEAD" if request.method == "HEAD" else "GET"
    event = AnymailTrackingEvent(
        event_type=EventType.OPENED if link.url is None else EventType.CLICKED,
        timestamp=clock.now(),
        event_id=uuid.uuid4().hex,
        metadata={META_MESSAGE: link.message_id},
        click_url=link.url,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        esp_event={
            "method": method,
            "honeypot": link.honeypot,
            "ip": ratelimit.client_address(request),
        },
    )
    row = record(event, FIRST_PARTY)
    if row is not None and row.message_id is None:
        logger.debug("postpurchase: tracked hit %s names no message of ours", row.event_id)
    return row
