"""Rendering: languages, branding, cached layout parts, the built-in templates."""

from __future__ import annotations

import pytest
from django.core import mail

from postpurchase import engine, recipes
from postpurchase.email.rendering import pick_language, render_template
from postpurchase.models import Contact, EmailTemplate
from postpurchase.testing.factories import (
    ContactFactory,
    EmailContentFactory,
    EmailStepFactory,
    EmailTemplateFactory,
    EnrollmentFactory,
    FlowFactory,
    order_snapshot,
)

pytestmark = pytest.mark.django_db


def context(**overrides):
    import json

    from postpurchase.conf import brand

    b = {**brand(), **overrides.pop("brand", {})}
    ctx = {
        "contact": Contact(email="anna@example.com", first_name="Anna"),
        "order": order_snapshot(items=3),
        "brand": b,
        "brand_key": json.dumps(b, sort_keys=True),
        "site_url": "https://shop.example.com",
        "recommendations": [],
        "event": {},
        "is_marketing": True,
        "unsubscribe_url": "https://shop.example.com/u/x/",
    }
    ctx.update(overrides)
    ctx.setdefault("items_to_review", ctx["order"].get("items", []))
    return ctx


@pytest.fixture
def templates():
    recipes.install("post-purchase-series")
    return {t.slug: t for t in EmailTemplate.objects.all()}


def test_pick_language():
    assert pick_language("ru-RU", ["en", "ru"]) == "ru"
    assert pick_language("uk_UA", ["en", "uk"]) == "uk"
    assert pick_language("de", ["ru", "en"]) == "en"
    assert pick_language("", ["uk"]) == "uk"


@pytest.mark.parametrize("slug", ["thank-you", "come-back", "review-request"])
@pytest.mark.parametrize("language", ["en", "ru", "uk"])
def test_built_in_emails_render_in_every_language(templates, slug, language):
    recommended = [
        {
            "name": "Rain cover",
            "url": "https://shop.example.com/p/9/",
            "price": "790",
            "currency": "RUB",
        }
    ]
    rendered = render_template(templates[slug], language, context(recommendations=recommended))
    assert rendered.language == language
    assert rendered.subject and "\n" not in rendered.subject
    assert "Anna" in rendered.subject
    assert "<html" in rendered.html and "{%" not in rendered.html and "{{" not in rendered.html
    shown = "Rain cover" if slug == "come-back" else "Product 1"
    assert shown in rendered.text
    assert "None" not in rendered.text


def test_brand_changes_are_not_hidden_by_the_layout_cache(templates):
    first = render_template(templates["thank-you"], "en", context(brand={"name": "Shop One"}))
    second = render_template(templates["thank-you"], "en", context(brand={"name": "Shop Two"}))
    assert "Shop One" in first.html and "Shop One" not in second.html
    assert "Shop Two" in second.html


def test_layout_parts_follow_the_language(templates):
    en = render_template(templates["thank-you"], "en", context())
    ru = render_template(templates["thank-you"], "ru", context())
    assert "Questions about your order?" in en.text
    assert "Questions about your order?" not in ru.text


def test_each_email_keeps_its_own_layout_blocks(templates):
    """come-back empties the shop_link block; the cached parts must not leak between."""
    thank_you = render_template(templates["thank-you"], "en", context())
    come_back = render_template(templates["come-back"], "en", context())
    again = render_template(templates["thank-you"], "en", context())
    assert thank_you.html == again.html
    shop_link = "New arrivals and bestsellers are waiting for you in our shop."
    assert shop_link in thank_you.text
    assert shop_link not in come_back.text


def test_unsubscribe_link_only_in_marketing_mail(templates):
    marketing = render_template(templates["come-back"], "en", context())
    service = render_template(
        templates["thank-you"], "en", context(is_marketing=False, unsubscribe_url="")
    )
    assert "https://shop.example.com/u/x/" in marketing.html
    assert "/u/x/" not in service.html


def test_snapshot_without_items_renders(templates):
    order = {"number": "7", "email": "a@example.com", "items": []}
    rendered = render_template(templates["thank-you"], "ru", context(order=order))
    assert "7" in rendered.html


def one_section(text: str) -> str:
    return f"<mj-section><mj-column><mj-text>{text}</mj-text></mj-column></mj-section>"


def greeting_in_header_flow():
    """A flow whose email overrides the cached ``header`` block with the first name."""
    template = EmailTemplateFactory(languages=[])
    EmailContentFactory(
        template=template,
        body=(
            '{% extends "postpurchase/email/base.mjml" %}'
            "{% block header %}" + one_section("Hi {{ contact.first_name }}") + "{% endblock %}"
            "{% block content %}" + one_section("Order {{ order.number }}") + "{% endblock %}"
        ),
    )
    flow = FlowFactory()
    EmailStepFactory(flow=flow, template=template, category="transactional")
    return flow


def greeting_of(email) -> str:
    return next(line for line in email.body.splitlines() if line.startswith("Hi "))


def test_a_cached_block_with_customer_data_greets_each_customer_by_their_name(frozen):
    flow = greeting_in_header_flow()
    for name in ("Alice", "Bob"):
        contact = ContactFactory(first_name=name, email=f"{name.lower()}@example.com")
        EnrollmentFactory(flow=flow, contact=contact)
    assert engine.run_due() == 2  # one batch
    # A later batch renders with the same compiled template.
    EnrollmentFactory(flow=flow, contact=ContactFactory(first_name="Carol"))
    assert engine.run_due() == 1
    greetings = {
        email.to[0].split("<")[-1].rstrip(">"): greeting_of(email) for email in mail.outbox
    }
    assert greetings["alice@example.com"] == "Hi Alice"
    assert greetings["bob@example.com"] == "Hi Bob"
    assert sorted(greetings.values()) == ["Hi Alice", "Hi Bob", "Hi Carol"]


def test_a_layout_value_taken_from_the_customer_is_not_shared_by_the_cached_part(frozen):
    """A custom layout that binds a customer value outside the part and reads it inside."""
    content = EmailContentFactory(
        template=EmailTemplateFactory(languages=[]),
        body=(
            "<mjml><mj-body>{% with name=contact.first_name %}{% brandpart %}"
            + one_section("Hi {{ name }} from {{ brand.name }}")
            + "{% endbrandpart %}{% endwith %}</mj-body></mjml>"
        ),
    )
    texts = [
        render_template(
            content.template, "en", context(contact=Contact(email=f"{n}@example.com", first_name=n))
        ).text.strip()
        for n in ("Alice", "Bob", "Alice")
    ]
    shop = context()["brand"]["name"]
    assert texts == [f"Hi Alice from {shop}", f"Hi Bob from {shop}", f"Hi Alice from {shop}"]


def test_a_part_that_reads_only_brand_values_is_rendered_once(frozen):
    """The cache still works where it is safe: ``{% now %}`` inside a brand-only part
    shows the moment of its first render in every email."""
    content = EmailContentFactory(
        template=EmailTemplateFactory(languages=[]),
        body=(
            "<mjml><mj-body>{% brandpart %}"
            + one_section('{{ brand.name }} {% now "U.u" %}')
            + "{% endbrandpart %}"
            + one_section("Hi {{ contact.first_name }}")
            + "</mj-body></mjml>"
        ),
    )
    first, second = (
        render_template(
            content.template, "en", context(contact=Contact(email=f"{n}@example.com", first_name=n))
        ).text
        for n in ("Alice", "Bob")
    )
    assert "Hi Alice" in first and "Hi Bob" in second
    assert first.splitlines()[0] == second.splitlines()[0]
    assert first.splitlines()[0].startswith(context()["brand"]["name"] + " ")


def test_a_cached_block_with_per_email_text_shows_each_email_its_own(frozen):
    """Plain per-email values (an order number) are compared, so each email gets its
    own, also after the part gave up caching."""
    content = EmailContentFactory(
        template=EmailTemplateFactory(languages=[]),
        body=(
            '{% extends "postpurchase/email/base.mjml" %}'
            "{% block header %}" + one_section("Order {{ order.number }}") + "{% endblock %}"
        ),
    )
    numbers = [str(1000 + i) for i in range(12)] + ["1000"]
    for number in numbers:
        rendered = render_template(
            content.template, "en", context(order=order_snapshot(number=number))
        )
        assert f"Order {number}" in rendered.text
