"""NPS surveys (domain E5): signed survey links, recording an answer, and the score.

The survey email's eleven links (0-10) carry a token signed for its message; following
one only shows the landing page (mail scanners open every link). The answer is recorded
by a POST, at most one per message: answering again changes the same row. Each new or
changed answer sends ``nps_submitted`` and records an ``nps_submitted`` event, with
``{"score", "category", "comment", "review_opt_in"}`` as its data, which flows trigger on (filter
``event_data``: ``category == detractor``, ``score <= 6``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.urls import NoReverseMatch, reverse

from postpurchase import clock, signals
from postpurchase.conf import site_url
from postpurchase.engine import record_event
from postpurchase.models import Message, NPSResponse
from postpurchase.public.tokens import NPS_SALT, make_nps_token, read_nps_token  # noqa: F401  (the links' API)

EVENT = "nps_submitted"
SCORES = range(0, 11)
COMMENT_MAX = 4000


# --- links ---------------------------------------------------------------------------


def nps_url(message_id: Any, score: int | None = None) -> str:
    """Absolute URL of the survey page for a message, with ``score`` preselected."""
    url = site_url() + reverse("postpurchase:nps", args=[make_nps_token(message_id)])
    return url if score is None else f"{url}?score={int(score)}"


def response_admin_url(response: NPSResponse) -> str:
    try:
        path = reverse("admin:postpurchase_npsresponse_change", args=[response.pk])
    except NoReverseMatch:
        return ""
    return site_url() + path


# --- answers -------------------------------------------------------------------------


def category_for(score: int) -> str:
    """promoter (9-10), passive (7-8) or detractor (0-6)."""
    if not 0 <= score <= 10:
        raise ValueError(f"An NPS score is 0-10; got {score!r}")
    if score >= 9:
        return NPSResponse.Category.PROMOTER
    if score >= 7:
        return NPSResponse.Category.PASSIVE
    return NPSResponse.Category.DETRACTOR


def parse_score(value: Any) -> int | None:
    try:
        score = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return score if 0 <= score <= 10 else None


def order_categories(snapshot: dict[str, Any]) -> list[str]:
    items = snapshot.get("items") if isinstance(snapshot, dict) else None
    if not isinstance(items, list):
        return []
    found = []
    for item in items:
        category = str(item.get("category") or "").strip() if isinstance(item, dict) else ""
        if category and category not in found:
            found.append(category)
    return found


def record_answer(
    message: Message, score: int, comment: str = "", review_opt_in: bool = False
) -> tuple[NPSResponse, bool]:
    """Record (or change) the answer to ``message``'s survey. Returns the response and
    whether anything changed; a change sends ``nps_submitted`` and records the event.
    ``review_opt_in``: the respondent would write a public review, whatever the score
    (the review follow-up filters on it, not on the score: no review gating)."""
    review_opt_in = bool(review_opt_in)
    category = category_for(score)
    comment = (comment or "").strip()[:COMMENT_MAX]
    now = clock.now()
    with transaction.atomic():
        # Lock the message row, so two POSTs for one message run one after the other.
        message = (
            Message.objects.select_for_update()
            .select_related("enrollment", "contact")
            .get(pk=message.pk)
        )
        enrollment = message.enrollment
        response = NPSResponse.objects.filter(message=message).first()
        created = response is None
        if created:
            response = NPSResponse.objects.create(
                message=message,
                contact=message.contact,
                enrollment=enrollment,
                flow_id=enrollment.flow_id,
                order_ref=enrollment.order_ref,
                categories=order_categories(enrollment.snapshot),
                score=score,
                comment=comment,
                category=category,
                review_opt_in=review_opt_in,
                created_at=now,
                updated_at=now,
            )
        elif (response.score, response.comment, response.review_opt_in) == (
            score,
            comment,
            review_opt_in,
        ):
            return response, False
        else:
            response.score, response.comment, response.category = score, comment, category
            response.review_opt_in = review_opt_in
            response.updated_at = now
            response.save(
                update_fields=["score", "comment", "category", "review_opt_in", "updated_at"]
            )
        record_event(
            EVENT,
            message.contact,
            ref=f"postpurchase.npsresponse:{response.pk}",
            order_ref=enrollment.order_ref,
            data={
                "score": score,
                "category": category,
                "comment": comment,
                "review_opt_in": review_opt_in,
                "response_id": response.pk,
                "response_url": response_admin_url(response),
            },
            snapshot=enrollment.snapshot,
        )
    signals.emit(signals.nps_submitted, NPSResponse, response=response, created=created)
    return response, True


# --- the score -----------------------------------------------------------------------


@dataclass(frozen=True)
class NPSCounts:
    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def total(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> float | None:
        """% promoters - % detractors (-100 to 100), None without answers."""
        return nps_score(self.promoters, self.passives, self.detractors)

    @property
    def rounded(self) -> int | None:
        return None if self.score is None else round(self.score)


def nps_score(promoters: int, passives: int, detractors: int) -> float | None:
    total = promoters + passives + detractors
    if not total:
        return None
    return 100.0 * (promoters - detractors) / total


def count(categories: Iterable[str]) -> NPSCounts:
    values = list(categories)
    return NPSCounts(
        promoters=values.count(NPSResponse.Category.PROMOTER),
        passives=values.count(NPSResponse.Category.PASSIVE),
        detractors=values.count(NPSResponse.Category.DETRACTOR),
    )


# --- the report ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    label: str
    counts: NPSCounts

    @property
    def nps(self) -> int | None:
        return self.counts.rounded

    @property
    def bar_left(self) -> float:
        """Where the bar starts on a -100..100 axis drawn 0-100% wide."""
        return 50.0 + min(self.counts.score or 0.0, 0.0) / 2

    @property
    def bar_width(self) -> float:
        return abs(self.counts.score or 0.0) / 2


def period_start(moment, period: str):
    """The first day (a date) of the week (Monday) or month ``moment`` falls in."""
    from datetime import timedelta

    from django.utils import timezone

    day = timezone.localtime(moment).date()
    if period == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def report(responses, period: str = "week") -> dict[str, Any]:
    """The NPS of ``responses`` (a queryset) overall, per week or month (oldest first),
    per flow and per product category (largest first), and the latest comments."""
    rows = list(
        responses.values_list("created_at", "category", "flow__name", "categories").order_by(
            "created_at"
        )
    )
    by_period: dict[Any, list[str]] = {}
    by_flow: dict[str, list[str]] = {}
    by_category: dict[str, list[str]] = {}
    for created_at, category, flow_name, categories in rows:
        by_period.setdefault(period_start(created_at, period), []).append(category)
        by_flow.setdefault(flow_name or "-", []).append(category)
        for name in categories or ["-"]:
            by_category.setdefault(str(name), []).append(category)

    def table(groups: dict[Any, list[str]], sort_by_size: bool) -> list[ReportRow]:
        items = list(groups.items())
        if sort_by_size:
            items.sort(key=lambda kv: (-len(kv[1]), str(kv[0])))
        return [ReportRow(label=str(key), counts=count(values)) for key, values in items]

    comments = list(
        responses.exclude(comment="").select_related("contact", "flow").order_by("-updated_at")[:50]
    )
    return {
        "overall": count(category for _, category, _, _ in rows),
        "over_time": table(by_period, sort_by_size=False),
        "by_flow": table(by_flow, sort_by_size=True),
        "by_category": table(by_category, sort_by_size=True),
        "comments": comments,
        "period": period,
    }
