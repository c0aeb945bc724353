"""A marketer builds an email from blocks in the admin, in a real browser, and watches
the live preview follow every change; no MJML or template syntax typed."""

from __future__ import annotations

import os

import pytest

from postpurchase.models import EmailContent
from tests.browser.test_flow_editor import flash, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# With POSTPURCHASE_DOCS_SCREENSHOTS=<folder>, keep screenshots for docs/editor.md.
FOLDER = os.environ.get("POSTPURCHASE_DOCS_SCREENSHOTS")


def frame_text_has(page, text: str) -> None:
    page.wait_for_function(
        """text => {
            const doc = document.getElementById('pp-preview-frame').contentDocument;
            return doc && doc.body && doc.body.innerText.includes(text);
        }""",
        arg=text,
    )


def frame_order(page, first: str, second: str) -> None:
    page.wait_for_function(
        """([a, b]) => {
            const doc = document.getElementById('pp-preview-frame').contentDocument;
            const t = doc && doc.body ? doc.body.innerText : '';
            return t.indexOf(a) > -1 && t.indexOf(b) > t.indexOf(a);
        }""",
        arg=[first, second],
    )


def add_block(page, kind: str, **fields: str) -> str:
    """Add a block of ``kind`` at the end and fill its ``fields`` (``link`` is picked
    from its list, the others typed); returns the new form's prefix."""
    total = int(page.input_value("#id_blocks-TOTAL_FORMS"))
    page.click("#blocks-group .add-row a")
    prefix = f"blocks-{total}"
    page.select_option(f"#id_{prefix}-kind", kind)
    for name, value in fields.items():
        if name == "link":
            page.select_option(f"#id_{prefix}-link", value)
        else:
            page.fill(f"#id_{prefix}-{name}", value)
    return prefix


def test_build_an_email_from_blocks_with_a_live_preview(admin_page):
    page = admin_page
    base = page.base_url

    page.goto(base + "/admin/postpurchase/emailtemplate/add/")
    page.fill("#id_name", "Care tips")
    submit(page, "input[name=_save]")
    # Straight on to the first language's block editor.
    assert "/emailcontent/add/" in page.url
    assert page.input_value("#id_editor") == "blocks"
    assert page.is_hidden("fieldset.pp-mjml")

    page.fill("#id_subject", "Tips for your purchase, ")
    page.click("#id_subject")
    page.press("#id_subject", "End")
    page.click(".pp-variable[data-name='first_name']")
    assert page.input_value("#id_subject") == "Tips for your purchase, {{ first_name }}"

    heading = add_block(page, "heading")
    assert page.input_value(f"#id_{heading}-position") == "1"
    assert page.is_hidden(f"#{heading} .field-url")  # only the fields a heading uses
    page.fill(f"#id_{heading}-text", "Hello, ")
    page.focus(f"#id_{heading}-text")
    page.press(f"#id_{heading}-text", "End")
    page.click(".pp-variable[data-name='first_name']")
    frame_text_has(page, "Hello, Anna")
    assert page.inner_text("#pp-preview-subject") == "Tips for your purchase, Anna"

    text = add_block(page, "text")
    assert page.input_value(f"#id_{text}-position") == "2"
    page.fill(
        f"#id_{text}-text", "Wash it **cold**, dry it flat.\n\n- no bleach\n- no tumble dryer"
    )
    frame_text_has(page, "no tumble dryer")
    add_block(page, "order_items", text="What you bought")
    frame_text_has(page, "Backpack")
    button = add_block(page, "button", label="Back to the shop", link="shop")
    frame_text_has(page, "Back to the shop")
    assert page.is_hidden(f"#{button} .field-url")  # only for "another address"
    page.select_option(f"#id_{button}-link", "custom")
    assert page.is_visible(f"#{button} .field-url")
    page.select_option(f"#id_{button}-link", "shop")

    # An unknown variable is shown at once, and the email keeps its last good preview.
    page.fill(f"#id_{text}-text", "Wash it {{ colour }}")
    page.wait_for_selector("#pp-preview-error:not([hidden])")
    assert "colour" in page.inner_text("#pp-preview-error")
    page.fill(f"#id_{text}-text", "Wash it **cold**, dry it flat.")
    page.wait_for_selector("#pp-preview-error", state="hidden")

    # Reorder: the text goes above the heading, and the preview follows.
    page.click(f"#{text} .pp-move >> nth=0")
    assert page.input_value(f"#id_{text}-position") == "1"
    frame_order(page, "Wash it", "Hello, Anna")
    page.click(f"#{text} .pp-move >> nth=1")
    frame_order(page, "Hello, Anna", "Wash it")
    page.set_viewport_size({"width": 1440, "height": 1700})
    if page.locator("#toggle-nav-sidebar").is_visible():
        page.click("#toggle-nav-sidebar")  # more room for the form and the preview
    page.wait_for_timeout(400)
    if FOLDER:
        page.screenshot(path=os.path.join(FOLDER, "blocks-editor.png"))

    # Russian at mobile width: the shop blocks' own words are Russian.
    page.select_option("#id_language", "ru")
    page.click(".pp-width[data-width='375']")
    assert page.evaluate("document.getElementById('pp-preview-frame').style.width") == "375px"
    page.wait_for_function(
        "() => { const d = document.getElementById('pp-preview-frame').contentDocument;"
        " return d && d.body && d.documentElement.lang === 'ru'; }"
    )
    assert (
        "Есть вопросы по заказу?"
        in page.frame_locator("#pp-preview-frame").locator("body").inner_text()
    )
    # The frame is as tall as the email: no inner scroll bar, no fixed height.
    height, email_height = page.evaluate(
        """() => { const f = document.getElementById('pp-preview-frame');
            return [f.clientHeight, f.contentDocument.documentElement.scrollHeight]; }"""
    )
    assert height >= email_height > 400 and height != 600
    if FOLDER:
        page.locator("#pp-editor-side").screenshot(
            path=os.path.join(FOLDER, "blocks-preview-mobile-ru.png")
        )

    submit(page, "input[name=_save]")
    assert "was added successfully" in flash(page)
    content = EmailContent.objects.get(template__slug="care-tips", language="ru")
    assert [b.kind for b in content.blocks.all()] == ["heading", "text", "order_items", "button"]
    assert content.editor == "blocks" and "{% extends" in content.body
