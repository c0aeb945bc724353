"""A marketer builds, checks, launches and watches a flow in the admin, in a real
browser, and an order placed through the shop's checkout shows up on the diagram."""

from __future__ import annotations

import os
import re

import pytest

from postpurchase.models import EmailContent, Flow
from postpurchase.testing.factories import EmailContentFactory, EmailTemplateFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BROKEN_BODY = """{% extends "postpurchase/email/base.mjml" %}
{% block content %}<mj-section><mj-column>
<mj-text>Thanks, {{ contact.first_name }}!</mj-text>
{% if %}
</mj-column></mj-section>{% endblock %}"""
FIXED_BODY = BROKEN_BODY.replace("{% if %}\n", "")


@pytest.fixture
def shop():
    from example_shop.shop.demo_data import load_demo_data

    load_demo_data()
    template = EmailTemplateFactory(slug="welcome", name="Welcome", languages=[])
    EmailContentFactory(
        template=template,
        language="en",
        subject="Thanks, {{ contact.first_name }}",
        body=BROKEN_BODY,
    )
    return template


def shot(page, name: str) -> None:
    """With POSTPURCHASE_DOCS_SCREENSHOTS=<folder>, keep a screenshot for the docs."""
    folder = os.environ.get("POSTPURCHASE_DOCS_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


def add_step(page, kind: str):
    """Click "Add another Step", pick the kind; return the new form's prefix."""
    total = int(page.input_value("#id_steps-TOTAL_FORMS"))
    page.click("#steps-group .add-row a")
    page.click(f".polymorphic-type-menu a[data-type='{kind}']")
    page.wait_for_selector(f"#id_steps-{total}-position")
    return f"steps-{total}"


def submit(page, selector: str) -> None:
    """Click a submit button and wait for the page it leads to (not the old one)."""
    with page.expect_navigation():
        page.click(selector)


def flash(page) -> str:
    """The admin's messages after the last navigation (errors included)."""
    page.wait_for_load_state()
    page.wait_for_selector("ul.messagelist, .errornote", timeout=10_000)
    texts = [
        page.inner_text(sel)
        for sel in ("ul.messagelist", ".errornote")
        if page.locator(sel).count()
    ]
    return "\n".join(texts)


def place_order(page, email: str, first_name: str, address: str) -> None:
    """A customer, in a tab of their own, buys the first product through the shop's
    checkout (courier, the first payment method)."""
    base = page.base_url
    shopper = page.context.new_page()
    shopper.goto(base + "/")
    with shopper.expect_navigation():
        shopper.click("a[href^='/p/']")
    with shopper.expect_navigation():  # the cart is in the session once this returns
        shopper.click("form[action^='/cart/add/'] [type=submit]")
    shopper.goto(base + "/checkout/")
    shopper.fill("#id_email", email)
    shopper.fill("#id_first_name", first_name)
    shopper.check("input[name=shipping_method][value=courier]")
    shopper.fill("#id_shipping_address", address)
    shopper.check("input[name=payment_method] >> nth=0")
    with shopper.expect_navigation(url=re.compile(r"/orders/")):
        shopper.click("form [type=submit] >> text=/order/i")
    shopper.close()


def test_build_check_launch_and_watch_a_flow(admin_page, shop):
    page = admin_page
    base = page.base_url

    # Build: an email, a one-day delay, and a condition that exits repeat buyers.
    page.goto(base + "/admin/postpurchase/flow/add/")
    page.fill("#id_name", "Welcome series")
    page.press("#id_name", "Tab")
    page.fill("#id_slug", "welcome-series")
    page.select_option("#id_trigger", "order_placed")
    email = add_step(page, "emailstep")
    page.fill(f"#id_{email}-position", "1")
    page.fill(f"#id_{email}-name", "Welcome")
    page.select_option(f"#id_{email}-template", label="Welcome")
    page.select_option(f"#id_{email}-category", "transactional")
    delay = add_step(page, "delaystep")
    page.fill(f"#id_{delay}-position", "2")
    page.fill(f"#id_{delay}-days", "1")
    condition = add_step(page, "conditionstep")
    page.fill(f"#id_{condition}-position", "3")
    page.select_option(f"#id_{condition}-condition", "ordered_again")
    page.select_option(f"#id_{condition}-then_action", "exit")
    page.fill(f"#id_{condition}-then_reason", "bought again")
    # The condition was added last; move it up before the delay, and back down.
    condition_form = page.locator(f"#{condition}")
    condition_form.locator("button[data-pp-move=up]").click()
    assert page.input_value(f"#id_{condition}-position") == "2"
    assert page.input_value(f"#id_{delay}-position") == "3"
    condition_form.locator("button[data-pp-move=down]").click()
    assert page.input_value(f"#id_{condition}-position") == "3"
    shot(page, "editor-steps")
    submit(page, "input[name=_continue]")
    assert "was added successfully" in flash(page)
    flow = Flow.objects.get(slug="welcome-series")
    assert [type(s).__name__ for s in flow.steps.all()] == [
        "EmailStep",
        "DelayStep",
        "ConditionStep",
    ]

    # Reorder saved steps with the buttons: the delay goes first, and saving keeps it.
    page.locator("#steps-group .inline-related:has(input[value='2'][name$='-position'])").locator(
        "button[data-pp-move=up]"
    ).click()
    submit(page, "input[name=_continue]")
    assert [type(s).__name__ for s in flow.steps.order_by("position")] == [
        "DelayStep",
        "EmailStep",
        "ConditionStep",
    ]
    assert [s.position for s in flow.steps.order_by("position")] == [1, 2, 3]
    page.locator("#steps-group .inline-related:has(input[value='1'][name$='-position'])").locator(
        "button[data-pp-move=down]"
    ).click()
    submit(page, "input[name=_continue]")
    assert [type(s).__name__ for s in flow.steps.order_by("position")] == [
        "EmailStep",
        "DelayStep",
        "ConditionStep",
    ]

    # Preview the email and send a test to ourselves.
    href = page.get_attribute("text=Preview and send a test", "href")
    page.goto(base + href)
    assert "Template error" in page.inner_text(".errornote")  # broken: shown, not sent

    # Going live with the broken template is refused, naming the step and line.
    page.goto(base + f"/admin/postpurchase/flow/{flow.pk}/change/")
    page.select_option("#id_status", "live")
    submit(page, "input[name=_continue]")
    message = flash(page)
    shot(page, "editor-refused")
    assert "cannot go live" in message
    assert "Step 1 (Welcome)" in message and "line 4" in message
    flow.refresh_from_db()
    assert flow.status == "draft"

    # Fix the template in its admin page, preview again and send a test.
    content = EmailContent.objects.get(template=shop)
    page.goto(base + f"/admin/postpurchase/emailtemplate/{shop.pk}/change/")
    page.fill("#id_contents-0-body", FIXED_BODY)
    submit(page, "input[name=_save]")
    assert "was changed successfully" in flash(page)
    content.refresh_from_db()
    assert "{% if %}" not in content.body
    page.goto(base + href)
    assert page.inner_text("#pp-subject") == "Thanks, Anna"
    # The frame is as tall as the email: no inner scroll bar hides the footer.
    page.wait_for_function(
        "() => { const f = document.getElementById('pp-preview');"
        " return f.clientHeight >= f.contentDocument.documentElement.scrollHeight; }"
    )
    shot(page, "editor-preview")
    submit(page, "input[type=submit][value^='Send a test']")
    assert "Test sent to" in flash(page)

    # Go live with the changelist action.
    page.goto(base + "/admin/postpurchase/flow/")
    page.check(f"input[name=_selected_action][value='{flow.pk}']")
    page.select_option("select[name=action]", "go_live")
    submit(page, "button[name=index]")
    assert "1 flow(s) are live." in flash(page)
    flow.refresh_from_db()
    assert flow.status == "live"

    # A customer orders through the shop's own checkout...
    place_order(page, "maria@example.com", "Maria", "1 Main St.")

    # The admin's lists fit a 1,280 px screen: no table spills to the right.
    for url in ("flow", "message", "enrollment", "event", "contact", "npsresponse"):
        page.goto(base + f"/admin/postpurchase/{url}/")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 1280, (url, width)

    # ...and the flow's diagram shows her enrolled and her welcome email sent.
    page.goto(base + f"/admin/postpurchase/flow/{flow.pk}/change/")
    page.locator(".pp-diagram").scroll_into_view_if_needed()
    shot(page, "editor-diagram")
    diagram = page.inner_text(".pp-diagram")
    assert "1 enrolled" in diagram
    first_step = page.inner_text(".pp-node[data-position='1']")
    assert "1 sent" in first_step
    assert "1 waiting" in page.inner_text(".pp-node[data-position='2']")
