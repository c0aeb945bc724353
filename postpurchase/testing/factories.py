"""factory-boy factories for postpurchase models, reusable in a shop's own tests.

from postpurchase.testing.factories import EmailStepFactory, FlowFactory, order_snapshot
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory

from postpurchase import clock, consent
from postpurchase.models import (
    ConditionStep,
    Contact,
    Conversion,
    DelayStep,
    EmailContent,
    EmailStep,
    EmailTemplate,
    Enrollment,
    Event,
    Flow,
    Message,
    MessageEvent,
    NotifyStaffStep,
    SignalStep,
)


def order_snapshot(items: int | list[dict[str, Any]] = 2, **overrides: Any) -> dict[str, Any]:
    """A realistic order snapshot (the shape adapters return), with ``items`` lines (a
    number of made-up ones, or the item dicts themselves: see ``product``)."""
    lines = (
        items
        if isinstance(items, list)
        else [
            {
                "sku": f"SKU-{i}",
                "name": f"Product {i}",
                "category": "Backpacks" if i % 2 else "Accessories",
                "qty": 1 + i % 2,
                "price": f"{990 + 1000 * i}.00",
                "total": f"{(990 + 1000 * i) * (1 + i % 2)}.00",
                "image_url": "",
                "url": f"https://shop.example.com/p/{i}/",
                "review_url": f"https://shop.example.com/p/{i}/#review",
            }
            for i in range(1, items + 1)
        ]
    )
    total = sum(float(line.get("total") or 0) for line in lines if isinstance(line, dict))
    snapshot = {
        "number": "1001",
        "email": "anna@example.com",
        "first_name": "Anna",
        "last_name": "Petrova",
        "locale": "en",
        "currency": "RUB",
        "items": lines,
        "subtotal": f"{total:.2f}",
        "shipping_cost": "0.00",
        "discount": "0.00",
        "total": f"{total:.2f}",
        "payment_method": "Card",
        "shipping_method": "Courier",
        "order_url": "https://shop.example.com/orders/1001/",
    }
    snapshot.update(overrides)
    return snapshot


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    first_name = "Anna"
    locale = "en"

    @factory.post_generation
    def soft_opt_in(obj, create, extracted, **kwargs):
        """An existing customer, as a contact from an order is: a soft opt-in to
        marketing is recorded (unless a state is). ``soft_opt_in=False`` leaves the
        contact without one (someone who never bought)."""
        if create and extracted is not False:
            consent.note_purchase(obj)


class FlowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Flow

    name = factory.Sequence(lambda n: f"Flow {n}")
    slug = factory.Sequence(lambda n: f"flow-{n}")
    trigger = "order_placed"
    status = Flow.Status.LIVE
    reentry = Flow.Reentry.ONCE_PER_ORDER
    exit_events = factory.LazyFunction(lambda: ["order_cancelled", "order_refunded"])


class EmailTemplateFactory(factory.django.DjangoModelFactory):
    """A template with content in each of ``languages`` (default en)."""

    class Meta:
        model = EmailTemplate
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"template-{n}")
    name = factory.Sequence(lambda n: f"Template {n}")

    @factory.post_generation
    def languages(self, create, extracted, **kwargs):
        if not create:
            return
        for language in extracted if extracted is not None else ["en"]:
            EmailContentFactory(template=self, language=language)


class EmailContentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailContent
        django_get_or_create = ("template", "language")

    template = factory.SubFactory(EmailTemplateFactory, languages=[])
    language = "en"
    subject = factory.LazyAttribute(
        lambda o: f"[{o.language}] {o.template.slug} for {{{{ contact.first_name }}}}"
    )
    preheader = "Order {{ order.number }}"
    body = (
        "<mjml><mj-body><mj-section><mj-column><mj-text>"
        "Hello {{ contact.first_name }}!"
        "{% for item in order.items %} {{ item.name }} x{{ item.qty }}{% endfor %}"
        '{% if unsubscribe_url %} <a href="{{ unsubscribe_url }}">unsubscribe</a>{% endif %}'
        '{% if preferences_url %} <a href="{{ preferences_url }}">preferences</a>{% endif %}'
        "</mj-text></mj-column></mj-section></mj-body></mjml>"
    )


class EmailStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailStep

    flow = factory.SubFactory(FlowFactory)
    position = factory.Sequence(lambda n: n + 1)
    template = factory.SubFactory(EmailTemplateFactory)
    category = EmailStep.Category.MARKETING


class DelayStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DelayStep

    flow = factory.SubFactory(FlowFactory)
    position = factory.Sequence(lambda n: n + 1)
    days = 1
    relative_to = DelayStep.RelativeTo.PREVIOUS


class ConditionStepFactory(factory.django.DjangoModelFactory):
    """A condition; pass ``condition`` and its parameters (``field``, ``value``, ...)."""

    class Meta:
        model = ConditionStep

    flow = factory.SubFactory(FlowFactory)
    position = factory.Sequence(lambda n: n + 1)
    condition = ConditionStep.Check.ORDERED_AGAIN
    then_action = ConditionStep.Action.EXIT
    else_action = ConditionStep.Action.CONTINUE


class NotifyStaffStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotifyStaffStep

    flow = factory.SubFactory(FlowFactory)
    position = factory.Sequence(lambda n: n + 1)
    recipients = "team@example.com"
    subject = "Order {{ order.number }} from {{ contact.email }}"
    body = "{{ contact.first_name }} ordered {{ order.total }}.\n{{ admin_url }}"


class SignalStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SignalStep

    flow = factory.SubFactory(FlowFactory)
    position = factory.Sequence(lambda n: n + 1)
    action = "award-bonus-points"


class EventFactory(factory.django.DjangoModelFactory):
    """A stored event (no enrollment or exits: use ``postpurchase.track`` for those)."""

    class Meta:
        model = Event

    contact = factory.SubFactory(ContactFactory)
    name = "order_placed"
    occurred_at = factory.LazyFunction(clock.now)


class EnrollmentFactory(factory.django.DjangoModelFactory):
    """An enrollment due now at the flow's first step (no event, no wake-up)."""

    class Meta:
        model = Enrollment

    flow = factory.SubFactory(FlowFactory)
    contact = factory.SubFactory(ContactFactory)
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")
    snapshot = factory.LazyAttribute(lambda o: order_snapshot(email=o.contact.email))
    step = factory.LazyAttribute(lambda o: o.flow.steps.order_by("position", "id").first())
    triggered_at = factory.LazyFunction(clock.now)
    step_entered_at = factory.SelfAttribute("triggered_at")
    due_at = factory.SelfAttribute("triggered_at")


class MessageFactory(factory.django.DjangoModelFactory):
    """An email of an enrollment's step as delivery leaves it once the ESP accepted it
    (status sent, a marketing email, no tracking yet); pass ``status``, the roll-ups
    (``delivered_at``, ``opened_at``, ``opens``, ``bounced_at``...) as tracking would
    set them (``sent_at`` is set only for a sent one)."""

    class Meta:
        model = Message

    enrollment = factory.SubFactory(EnrollmentFactory)
    step = factory.LazyAttribute(
        lambda o: o.enrollment.step or EmailStepFactory(flow=o.enrollment.flow, position=100)
    )
    contact = factory.SelfAttribute("enrollment.contact")
    to_email = factory.SelfAttribute("contact.email")
    category = EmailStep.Category.MARKETING
    status = Message.Status.SENT
    created_at = factory.LazyFunction(clock.now)
    sent_at = factory.LazyAttribute(
        lambda o: o.created_at if o.status == Message.Status.SENT else None
    )


class MessageEventFactory(factory.django.DjangoModelFactory):
    """What an ESP reported about a message (default: delivered)."""

    class Meta:
        model = MessageEvent

    esp = "test"
    event_id = factory.Sequence(lambda n: f"event-{n}")
    kind = MessageEvent.Kind.DELIVERED
    occurred_at = factory.LazyFunction(clock.now)
    message = factory.SubFactory(MessageFactory)


class ConversionFactory(factory.django.DjangoModelFactory):
    """An order attributed to ``message`` (a click an hour before), with its revenue."""

    class Meta:
        model = Conversion

    message = factory.SubFactory(MessageFactory)
    kind = Conversion.Kind.ORDER
    key = factory.Sequence(lambda n: f"order:test:{n}")
    flow_id = factory.SelfAttribute("message.enrollment.flow_id")
    step_id = factory.SelfAttribute("message.step_id")
    contact_id = factory.SelfAttribute("message.contact_id")
    event_name = "order_placed"
    order_ref = factory.LazyAttribute(lambda o: o.key.removeprefix("order:"))
    touch = Conversion.Touch.CLICK
    touched_at = factory.LazyFunction(clock.now)
    occurred_at = factory.LazyFunction(clock.now)
    sent_at = factory.SelfAttribute("message.sent_at")
    revenue = factory.LazyFunction(lambda: Decimal("1990.00"))
    currency = "RUB"


def product(sku: str, category: str = "", price: str = "100.00", qty: int = 1, **extra: Any):
    """An order item for ``order_placed_event`` (name and link made from the SKU)."""
    return {
        "sku": sku,
        "name": f"Product {sku}",
        "category": category,
        "qty": qty,
        "price": price,
        "total": price,
        "url": f"https://shop.example.com/p/{sku}/",
        "image_url": f"https://shop.example.com/img/{sku}.jpg",
        **extra,
    }


def order_placed_event(email: str, items: list[dict[str, Any]], occurred_at=None, **snapshot):
    """A stored ``order_placed`` event of ``email`` (contact created if new) whose
    snapshot holds ``items`` (see ``product``): order history without enrollments."""
    contact = ContactFactory(email=email)
    ref = snapshot.pop("ref", None) or f"shop.order:{Event.objects.count() + 1}"
    return EventFactory(
        contact=contact,
        name="order_placed",
        ref=ref,
        order_ref=ref,
        snapshot=order_snapshot(items, email=email, ref=ref, **snapshot),
        occurred_at=occurred_at or clock.now(),
    )
