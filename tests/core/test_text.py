from postpurchase.text import html_to_text


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
