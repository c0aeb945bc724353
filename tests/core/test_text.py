from postpurchase.email.text import html_to_text


def test_links_keep_their_url_and_images_their_alt():
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<!--[if mso]><table><![endif]-->"
        "<p>Hello &amp; welcome, <b>Anna</b>!</p><br/>"
        '<a href="https://shop.example.com/p/1">Backpack</a>'
        '<a href="https://shop.example.com/p/2"><img src="x.png" alt=""></a>'
        '<a href="https://shop.example.com/">https://shop.example.com/</a>'
        '<img src="logo.png" alt="Backpack Shop">'
        "<table><tr><td>Item</td><td>4 990 ₽</td></tr></table>"
        "</body></html>"
    )
    text = html_to_text(html)
    assert "color:red" not in text and "mso" not in text and "T\n" not in text
    assert "Hello & welcome, Anna!" in text
    assert "Backpack (https://shop.example.com/p/1)" in text
    assert "p/2" not in text  # image-only link with no alt text adds nothing
    assert "https://shop.example.com/ (" not in text  # no URL repeated after itself
    assert "Backpack Shop" in text
    assert "Item 4 990 ₽" in text
    assert "\n\n\n" not in text
    assert text.endswith("\n")


def test_text_from_mjml_source():
    mjml = (
        "<mjml><mj-head><mj-title>T</mj-title><mj-preview>Preview text</mj-preview>"
        "<mj-attributes><mj-all font-family='x' /></mj-attributes></mj-head><mj-body>"
        "<mj-section><mj-column><mj-image src='logo.png' alt='Backpack Shop' />"
        "<mj-text>Anna, thank you &amp; welcome!</mj-text>"
        '<mj-button href="https://shop.example.com/orders/1/">View order</mj-button>'
        "<mj-table><tr><td>Rain cover</td><td>790 ₽</td></tr></mj-table>"
        "</mj-column></mj-section></mj-body></mjml>"
    )
    text = html_to_text(mjml)
    assert text == (
        "Backpack Shop\n\nAnna, thank you & welcome!\n\n"
        "View order (https://shop.example.com/orders/1/)\n\nRain cover 790 ₽\n"
    )
