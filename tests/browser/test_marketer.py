"""As a marketer, from an empty database: "7 days after delivery, send care tips",
built with blocks only (no MJML typed), previewed in Russian at mobile width, put live;
an order placed in the shop and marked delivered in the shop's admin gets the email on
day 7 of a simulated clock, with the customer's name and items."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from postpurchase import clock, engine
from postpurchase.models import EmailContent, Enrollment, Flow, Message
from tests.browser.test_block_editor import add_block, frame_text_has
from tests.browser.test_flow_editor import add_step, flash, place_order, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalog():
    """The example shop's catalogue (products only matter here; it creates no flow,
    template or event of the app)."""
    from example_shop.shop.demo_data import load_demo_data

    load_demo_data()
    assert not Flow.objects.exists() and not EmailContent.objects.exists()


def variable(page, field: str, name: str) -> None:
    page.focus(field)
    page.press(field, "End")
    page.click(f".pp-variable[data-name='{name}']")


def test_care_tips_seven_days_after_delivery(admin_page, catalog):
    page = admin_page
    base = page.base_url

    # The email, from blocks, in Russian.
    page.goto(base + "/admin/postpurchase/emailtemplate/add/")
    page.fill("#id_name", "Care tips")
    submit(page, "input[name=_save]")
    page.select_option("#id_language", "ru")
    page.fill("#id_subject", "Как ухаживать за покупкой, ")
    variable(page, "#id_subject", "first_name")
    heading = add_block(page, "heading")
    page.fill(f"#id_{heading}-text", "Здравствуйте, ")
    variable(page, f"#id_{heading}-text", "first_name")
    add_block(page, "text", text="Несколько **простых советов**, чтобы вещи служили дольше.")
    add_block(page, "order_items")
    add_block(page, "button", label="В магазин", link="shop")
    frame_text_has(page, "В магазин")
    page.click(".pp-width[data-width='375']")
    frame_text_has(page, "Здравствуйте, Anna")
    assert page.evaluate("document.getElementById('pp-preview-frame').style.width") == "375px"
    assert (
        "Есть вопросы по заказу?"
        in page.frame_locator("#pp-preview-frame").locator("body").inner_text()
    )
    submit(page, "input[name=_save]")
    assert "was added successfully" in flash(page)

    # The flow: delivered, wait 7 days, send the email.
    page.goto(base + "/admin/postpurchase/flow/add/")
    page.fill("#id_name", "Care tips after delivery")
    page.press("#id_name", "Tab")
    page.select_option("#id_trigger", "order_delivered")
    delay = add_step(page, "delaystep")
    page.fill(f"#id_{delay}-position", "1")
    page.fill(f"#id_{delay}-days", "7")
    email = add_step(page, "emailstep")
    page.fill(f"#id_{email}-position", "2")
    page.fill(f"#id_{email}-name", "Care tips")
    page.select_option(f"#id_{email}-template", label="Care tips")
    page.select_option("#id_status", "live")
    submit(page, "input[name=_continue]")
    message = flash(page)
    assert "cannot go live" not in message, message
    flow = Flow.objects.get()
    assert flow.status == "live"

    # A customer orders through the shop...
    place_order(page, "maria@example.com", "Мария", "ул. Лесная, 5")

    # ...and the shop's staff mark it delivered in the shop's admin.
    from example_shop.shop.models import Order

    order = Order.objects.get(email="maria@example.com")
    item_names = [item.name for item in order.items.all()]
    page.goto(base + "/admin/shop/order/")
    page.check(f"input[name=_selected_action][value='{order.pk}']")
    page.select_option("select[name=action]", "mark_delivered")
    submit(page, "button[name=index]")
    enrollment = Enrollment.objects.get(flow=flow)
    delivered = enrollment.triggered_at

    # Simulated clock: nothing on day 6, the email on day 7.
    with clock.frozen_at(delivered + timedelta(days=6)):
        engine.run_due()
    assert not Message.objects.exists() and not mail.outbox
    with clock.frozen_at(delivered + timedelta(days=7, minutes=1)):
        engine.run_due()
    sent = Message.objects.get(enrollment=enrollment)
    assert sent.status == "sent" and sent.language == "ru"
    [email_out] = [m for m in mail.outbox if "maria@example.com" in " ".join(m.to)]
    html = email_out.alternatives[0][0]
    assert email_out.subject == "Как ухаживать за покупкой, Мария"
    assert "Здравствуйте, Мария" in html
    for name in item_names:
        assert name in html
    for raw in ("{{", "{%", "<mj-"):
        assert raw not in html
