"""Date triggers: each fires once per occurrence (scan run twice, restarted midway),
in the contact's time zone, and enrolls the flows that use it with that many days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from postpurchase import clock, track
from postpurchase.coupons import issue_coupon, redeem_coupon
from postpurchase.flows.event_names import event_choices, known_events
from postpurchase.flows.validation import validate_flow
from postpurchase.lifecycle import date_triggers, register_date_trigger
from postpurchase.lifecycle.finders import yearly
from postpurchase.lifecycle.scan import scan_date_triggers
from postpurchase.models import CouponPolicy, Enrollment, Event, PurchasedProduct
from postpurchase.periodic import job
from postpurchase.testing.factories import (
    ContactFactory,
    EmailStepFactory,
    EventFactory,
    FlowFactory,
    order_snapshot,
    product,
)
from tests.core.helpers import run_due

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def flow_on(trigger: str, days: int, **kwargs):
    flow = FlowFactory(trigger=trigger, trigger_days=days, exit_events=[], **kwargs)
    EmailStepFactory(flow=flow)
    return flow


def ordered(contact, at: datetime, number: str = "1"):
    return EventFactory(
        contact=contact,
        name="order_placed",
        occurred_at=at,
        order_ref=f"shop.order:{number}",
        snapshot=order_snapshot(email=contact.email, number=number),
    )


def fired(name: str) -> list[Event]:
    return list(Event.objects.filter(name=name).order_by("pk"))


def scan(at: datetime, **kwargs) -> int:
    with clock.frozen_at(at):
        return scan_date_triggers(**kwargs)


def test_the_scan_is_one_periodic_job():
    assert job("date triggers").function == "postpurchase.lifecycle.scan.scan_date_triggers"


def test_winback_fires_once_per_lapse_and_enrolls():
    flow = flow_on("winback_due", 90)
    contact = ContactFactory(timezone="Europe/Moscow")
    ordered(contact, NOW - timedelta(days=91))
    assert scan(NOW) == 1
    assert scan(NOW) == 0  # run again: nothing new
    assert scan(NOW + timedelta(days=2)) == 0  # still the same lapse
    (event,) = fired("winback_due")
    assert event.data["days"] == 90
    assert event.order_ref == ""  # any new order exits it
    assert event.snapshot["number"] == "1"  # the last order, for templates
    assert Enrollment.objects.filter(flow=flow, contact=contact).count() == 1


def test_winback_waits_until_the_days_have_passed():
    flow_on("winback_due", 90)
    contact = ContactFactory()
    ordered(contact, NOW - timedelta(days=89))
    assert scan(NOW) == 0
    assert scan(NOW + timedelta(days=1)) == 1


def test_a_new_order_starts_a_new_lapse():
    flow_on("winback_due", 30)
    contact = ContactFactory()
    ordered(contact, NOW - timedelta(days=31), "1")
    assert scan(NOW) == 1
    ordered(contact, NOW + timedelta(days=1), "2")
    assert scan(NOW + timedelta(days=20)) == 0  # ordered again: not lapsed
    assert scan(NOW + timedelta(days=32)) == 1  # lapsed again
    assert len(fired("winback_due")) == 2


def test_a_flow_enrolls_only_on_its_own_days():
    ninety = flow_on("winback_due", 90)
    sixty = flow_on("winback_due", 60)
    contact = ContactFactory()
    ordered(contact, NOW - timedelta(days=61))
    assert scan(NOW) == 1
    assert Enrollment.objects.filter(flow=sixty).count() == 1
    assert Enrollment.objects.filter(flow=ninety).count() == 0
    assert scan(NOW + timedelta(days=30)) == 1
    assert Enrollment.objects.filter(flow=ninety).count() == 1
    assert Enrollment.objects.filter(flow=sixty).count() == 1


def test_draft_flows_are_not_scanned():
    flow_on("winback_due", 90, status="draft")
    ordered(ContactFactory(), NOW - timedelta(days=91))
    assert scan(NOW) == 0


def test_moments_older_than_the_catch_up_are_left_alone(settings):
    flow_on("winback_due", 90)
    ordered(ContactFactory(), NOW - timedelta(days=90 + 8))  # due 8 days ago
    assert scan(NOW) == 0
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "LIFECYCLE_CATCH_UP_DAYS": 10}
    assert scan(NOW) == 1


def test_winback_ends_when_the_customer_orders_again():
    flow = flow_on("winback_due", 90)
    flow.exit_events = ["order_placed"]
    flow.save()
    # The first email waits a day, so the enrollment is still running.
    step = flow.steps.get()
    step.position = 2
    step.save()
    from postpurchase.testing.factories import DelayStepFactory

    DelayStepFactory(flow=flow, position=1, days=1)
    contact = ContactFactory()
    ordered(contact, NOW - timedelta(days=91))
    scan(NOW)
    enrollment = Enrollment.objects.get(flow=flow)
    assert enrollment.status == Enrollment.Status.ACTIVE
    with clock.frozen_at(NOW + timedelta(hours=2)):
        snapshot = order_snapshot(email=contact.email, number="2", ref="shop.order:2")
        track(
            "order_placed", email=contact.email, data={"order": snapshot}, order_ref="shop.order:2"
        )
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.exit_reason == "event:order_placed"


def test_a_scan_restarted_midway_fires_each_contact_once():
    flow_on("winback_due", 90)
    contacts = [ContactFactory() for _ in range(7)]
    for contact in contacts:
        ordered(contact, NOW - timedelta(days=91))
    winback = date_triggers()["winback_due"]
    calls = {"n": 0}

    def dies_after_two_pages(now, days, after, batch_size):
        for occurrence in winback.finder(now, days, after, batch_size):
            calls["n"] += 1
            if calls["n"] == 5:
                raise RuntimeError("worker killed")
            yield occurrence

    register_date_trigger("winback_due", winback.label, dies_after_two_pages, winback.days_help)
    try:
        with pytest.raises(RuntimeError):
            scan(NOW, batch_size=2)
        assert len(fired("winback_due")) == 4  # two pages recorded before it died
        register_date_trigger("winback_due", winback.label, winback.finder, winback.days_help)
        assert scan(NOW, batch_size=2) == 3
        assert scan(NOW, batch_size=2) == 0
    finally:
        register_date_trigger("winback_due", winback.label, winback.finder, winback.days_help)
    assert sorted(e.contact_id for e in fired("winback_due")) == sorted(c.pk for c in contacts)
    assert Enrollment.objects.count() == 7


def test_far_time_zones_fire_on_their_own_local_day():
    """Pacific/Kiritimati is UTC+14, America/Adak UTC-10: 24 hours apart."""
    flow_on("birthday", 0)
    east = ContactFactory(timezone="Pacific/Kiritimati", birthday=date(1990, 12, 2))
    west = ContactFactory(timezone="America/Adak", birthday=date(1990, 12, 2))
    # 1 December 10:30 UTC: 2 December 00:30 in Kiritimati, 1 December 00:30 in Adak.
    first = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)
    assert scan(first) == 1
    assert [e.contact_id for e in fired("birthday")] == [east.pk]
    # 09:59 UTC on 2 December is still 1 December 23:59 in Adak.
    assert scan(datetime(2026, 12, 2, 9, 59, tzinfo=UTC)) == 0
    assert scan(datetime(2026, 12, 2, 10, 30, tzinfo=UTC)) == 1
    assert [e.contact_id for e in fired("birthday")] == [east.pk, west.pk]
    events = fired("birthday")
    assert events[0].occurred_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # local 00:00
    assert events[1].occurred_at == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert scan(datetime(2026, 12, 3, 12, 0, tzinfo=UTC)) == 0


def test_birthday_fires_once_a_year():
    flow_on("birthday", 0)
    contact = ContactFactory(birthday=date(1985, 11, 23))
    assert scan(NOW) == 1
    assert scan(NOW + timedelta(hours=5)) == 0
    assert scan(NOW + timedelta(days=365)) == 1
    assert [e.data["birthday"] for e in fired("birthday")] == ["2026-11-23", "2027-11-23"]
    assert fired("birthday")[0].data["age"] == 41
    assert {e.contact_id for e in fired("birthday")} == {contact.pk}


def test_birthday_days_before():
    flow_on("birthday", 3)
    ContactFactory(birthday=date(1985, 11, 26))
    assert scan(NOW - timedelta(days=1)) == 0
    assert scan(NOW) == 1
    assert fired("birthday")[0].data == {"days": 3, "birthday": "2026-11-26", "age": 41}


def test_29_february_is_celebrated_on_28_february_in_common_years():
    flow_on("birthday", 0)
    ContactFactory(birthday=date(2000, 2, 29))
    assert yearly(2, 29, 2027) == date(2027, 2, 28)
    assert scan(datetime(2027, 2, 27, 12, tzinfo=UTC)) == 0
    assert scan(datetime(2027, 2, 28, 12, tzinfo=UTC)) == 1
    assert scan(datetime(2027, 3, 1, 12, tzinfo=UTC)) == 0  # not again on 1 March
    assert scan(datetime(2028, 2, 28, 12, tzinfo=UTC)) == 0  # a leap year: the 29th
    assert scan(datetime(2028, 2, 29, 12, tzinfo=UTC)) == 1
    assert [e.data["birthday"] for e in fired("birthday")] == ["2027-02-28", "2028-02-29"]


def test_order_followup_fires_once_per_order_with_the_order():
    flow = flow_on("order_followup_due", 30)
    contact = ContactFactory()
    ordered(contact, NOW - timedelta(days=30, hours=1), "7")
    ordered(contact, NOW - timedelta(days=30, hours=2), "8")
    ordered(contact, NOW - timedelta(days=10), "9")  # not yet
    assert scan(NOW) == 2
    assert scan(NOW) == 0
    assert sorted(e.order_ref for e in fired("order_followup_due")) == [
        "shop.order:7",
        "shop.order:8",
    ]
    enrollment = Enrollment.objects.filter(flow=flow).order_by("order_ref").first()
    assert enrollment.snapshot["number"] == "7"
    assert enrollment.order_ref == "shop.order:7"


def test_anniversary_of_the_first_order():
    flow_on("first_order_anniversary", 0)
    contact = ContactFactory()
    ordered(contact, NOW - timedelta(days=730), "1")  # the first, two years ago
    ordered(contact, NOW - timedelta(days=365), "2")  # the second: not the anniversary
    assert scan(NOW) == 1
    assert scan(NOW) == 0
    (event,) = fired("first_order_anniversary")
    assert event.data["years"] == 2
    assert scan(NOW - timedelta(days=1)) == 0


def test_a_first_order_this_year_has_no_anniversary_yet():
    flow_on("first_order_anniversary", 0)
    ordered(ContactFactory(), NOW - timedelta(days=5))
    assert scan(NOW) == 0


def test_a_coupon_about_to_expire_unused():
    flow_on("coupon_expiring", 3)
    policy = CouponPolicy.objects.create(name="10", kind="percent", percent=10, validity_days=10)
    contact = ContactFactory(timezone="Europe/Berlin")
    used_contact = ContactFactory()
    coupon = issue_coupon(policy, contact, now=NOW)
    used = issue_coupon(policy, used_contact, now=NOW)
    redeem_coupon(used.code, used_contact.email, "shop.order:1", 100, now=NOW)
    assert scan(NOW + timedelta(days=5)) == 0  # 5 days left
    later = NOW + timedelta(days=7, hours=1)  # the last valid day is 3 days away
    assert scan(later) == 1
    assert scan(later + timedelta(days=1)) == 0
    (event,) = fired("coupon_expiring")
    assert event.contact_id == contact.pk
    assert event.data["coupon"] == {"code": coupon.code, "expires_on": "2026-12-03"}


def test_replenishment_due_fires_before_and_on_the_predicted_date(
    django_capture_on_commit_callbacks,
):
    """The predictions of postpurchase.replenishment, through the scan: a flow 7 days
    before and a flow on the day each fire once for the prediction."""
    before, on_the_day_flow = flow_on("replenishment_due", 7), flow_on("replenishment_due", 0)
    with clock.frozen_at(NOW), django_capture_on_commit_callbacks(execute=True):
        track(
            "order_placed",
            email="anna@example.com",
            data={"order": order_snapshot([product("LENS", "Lenses", replenish_days=30)])},
        )
    predicted = PurchasedProduct.objects.get(sku="LENS").predicted_on  # 30 days on
    week_before = datetime.combine(predicted - timedelta(days=7), time(12), UTC)
    assert scan(week_before - timedelta(days=1)) == 0
    assert scan(week_before) == 1
    assert scan(week_before + timedelta(days=1)) == 0  # once per prediction
    on_the_day = datetime.combine(predicted, time(12), UTC)
    assert scan(on_the_day) == 1
    assert scan(on_the_day) == 0
    events = fired("replenishment_due")
    assert [e.data["days"] for e in events] == [7, 0]
    assert all(e.data["product"]["sku"] == "LENS" for e in events)
    assert Enrollment.objects.filter(flow=before).count() == 1
    assert Enrollment.objects.filter(flow=on_the_day_flow).count() == 1


def test_date_triggers_are_offered_with_translated_labels():
    from django.utils import translation

    assert set(known_events()) >= {
        "winback_due",
        "order_followup_due",
        "birthday",
        "first_order_anniversary",
        "coupon_expiring",
        "replenishment_due",
    }
    with translation.override("ru"):
        groups = dict(event_choices(seen=set()))
        labels = dict(next(v for k, v in groups.items() if "(" in str(k)))
        assert labels["birthday"] == "День рождения"


def test_a_date_trigger_needs_its_days_and_others_none():
    flow = FlowFactory(trigger="winback_due", trigger_days=None)
    EmailStepFactory(flow=flow)
    assert any("days" in str(p) for p in validate_flow(flow))
    flow.trigger_days = 90
    assert not any("days" in str(p) for p in validate_flow(flow))
    other = FlowFactory(trigger="order_placed", trigger_days=5)
    assert any("date trigger" in str(p) for p in validate_flow(other))


def test_a_chunk_with_a_key_twice_records_it_once():
    """The bulk insert fails on the unique key; the chunk goes one by one."""
    from postpurchase.lifecycle.finders import Occurrence
    from postpurchase.lifecycle.scan import fire

    flow = flow_on("birthday", 0)
    contact = ContactFactory()
    twice = Occurrence(contact.pk, "birthday:0:x:2026", {"days": 0})
    other = Occurrence(contact.pk, "birthday:0:y:2026", {"days": 0})
    with clock.frozen_at(NOW):
        assert fire("birthday", [twice, twice, other], NOW) == 2
    assert Event.objects.filter(name="birthday").count() == 2
    assert Enrollment.objects.filter(flow=flow).count() == 2


def test_fired_events_run_conditions_like_any_other():
    """A winback flow's condition sees the customer's orders (segments)."""
    from postpurchase.testing.factories import ConditionStepFactory

    flow = FlowFactory(trigger="winback_due", trigger_days=90, exit_events=[])
    ConditionStepFactory(
        flow=flow,
        position=1,
        condition="orders_count",
        operator=">=",
        amount=2,
        then_action="exit",
        then_reason="loyal",
        else_action="exit",
        else_reason="one-off",
    )
    loyal, once = ContactFactory(), ContactFactory()
    ordered(loyal, NOW - timedelta(days=200), "1")
    ordered(loyal, NOW - timedelta(days=91), "2")
    ordered(once, NOW - timedelta(days=91), "3")
    scan(NOW)
    with clock.frozen_at(NOW):
        run_due()
    reasons = dict(Enrollment.objects.values_list("contact_id", "exit_reason"))
    assert reasons == {loyal.pk: "loyal", once.pk: "one-off"}


def test_a_flow_with_a_reentry_period_enrolls_once_beside_the_others():
    from postpurchase import signals

    period = flow_on("birthday", 0, reentry="once_per_period", reentry_days=300)
    plain = flow_on("birthday", 0)
    ContactFactory(birthday=date(1990, 11, 23))
    enrolled = []

    def on_enrolled(sender, enrollment, **kwargs):
        enrolled.append(enrollment.flow_id)

    signals.enrolled.connect(on_enrolled, dispatch_uid="test-period")
    try:
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            assert scan(NOW) == 1
    finally:
        signals.enrolled.disconnect(dispatch_uid="test-period")
    assert sorted(enrolled) == sorted([period.pk, plain.pk])
    assert Enrollment.objects.count() == 2


def test_replenishment_due_reaches_every_contact_past_the_first_batch(
    django_capture_on_commit_callbacks,
):
    """More due predictions than one batch: the scan fires them all, not only the
    first batch's (the finder must go on past ``batch_size`` results)."""
    flow_on("replenishment_due", 7)
    with clock.frozen_at(NOW), django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            track(
                "order_placed",
                email=f"buyer{n}@example.com",
                data={"order": order_snapshot([product("LENS", "Lenses", replenish_days=30)])},
            )
    predicted = PurchasedProduct.objects.filter(sku="LENS").first().predicted_on
    week_before = datetime.combine(predicted - timedelta(days=7), time(12), UTC)
    assert scan(week_before, batch_size=2) == 5
    assert scan(week_before, batch_size=2) == 0
    assert len({e.contact_id for e in fired("replenishment_due")}) == 5


def test_a_contact_on_the_erased_list_is_not_enrolled_by_the_scan():
    """The scan enrolls a chunk at once (enroll_many); like enroll(), it leaves out a
    contact whose address was erased, and enrolls the others."""
    flow = flow_on("winback_due", 90)
    erased = ContactFactory(suppression_reason="erased", suppressed_at=NOW)
    other = ContactFactory()
    ordered(erased, NOW - timedelta(days=91), "1")
    ordered(other, NOW - timedelta(days=91), "2")
    assert scan(NOW) == 2
    assert list(Enrollment.objects.filter(flow=flow).values_list("contact_id", flat=True)) == [
        other.pk
    ]


def test_a_failing_trigger_does_not_stop_the_others(monkeypatch):
    """A finder that raises (a custom trigger's bug) is reported, after the other
    triggers have fired their occurrences."""
    from postpurchase.lifecycle import registry

    def broken(now, days, after, batch_size):
        raise RuntimeError("custom finder bug")
        yield  # pragma: no cover

    monkeypatch.setitem(
        registry._TRIGGERS, "aaa_broken", registry.DateTrigger("aaa_broken", "Broken", broken)
    )
    flow_on("aaa_broken", 1)
    flow = flow_on("winback_due", 90)
    contact = ContactFactory()
    ordered(contact, NOW - timedelta(days=91))
    with pytest.raises(RuntimeError, match="custom finder bug"):
        scan(NOW)
    assert Enrollment.objects.filter(flow=flow, contact=contact).count() == 1


@pytest.mark.parametrize(
    ("trigger", "days", "ok"),
    [
        ("birthday", 365, True),
        ("birthday", 400, False),  # no yearly moment is ever that far: it never fires
        ("first_order_anniversary", 366, False),
        ("winback_due", 3650, True),
        ("winback_due", 10**6, False),  # beyond the calendar: the scan would fail
    ],
)
def test_a_date_triggers_days_are_bounded(trigger, days, ok):
    flow = FlowFactory(trigger=trigger, trigger_days=days)
    EmailStepFactory(flow=flow)
    problems = [str(p) for p in validate_flow(flow)]
    assert (
        not any("at most" in p for p in problems) if ok else any("at most" in p for p in problems)
    )
