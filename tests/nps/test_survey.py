"""The NPS survey: eleven links, GET shows, POST records once per message (re-POST
updates), tampered and foreign tokens are refused with no change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail, signing
from django.urls import reverse

from postpurchase import nps, recipes, signals
from postpurchase.models import Event, Message, NPSResponse
from postpurchase.public.tokens import make_unsubscribe_token
from tests.core.helpers import run_clock
from tests.recipes.helpers import order_event, subjects_by_language

from .helpers import send_survey

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]


@pytest.fixture
def survey(frozen):
    return send_survey(frozen)


def test_the_email_has_eleven_score_links_and_no_form_or_script(survey):
    message, links = survey
    assert [link.rsplit("=", 1)[1] for link in links] == [str(n) for n in range(11)]
    # One token per message: every link carries the same one.
    tokens = {link.split("/")[3] for link in links}
    assert len(tokens) == 1
    assert nps.read_nps_token(tokens.pop()) == str(message.pk)
    body = mail.outbox[0].alternatives[0][0].lower()
    assert "<form" not in body and "<script" not in body


def test_the_survey_goes_out_ten_days_after_delivery_in_three_languages(frozen):
    start = frozen.now
    recipes.install("nps-survey", live=True)
    for i, locale in enumerate(("en", "ru", "uk")):
        order_event("order_delivered", locale, number=f"200{i}")
    run_clock(frozen, days=12)
    assert subjects_by_language() == {
        "en": ["Emily, would you recommend us to a friend?"],
        "ru": ["Анна, порекомендуете нас друзьям?"],
        "uk": ["Олена, порекомендуєте нас друзям?"],
    }
    sent_at = {m.sent_at for m in Message.objects.filter(status="sent")}
    assert all(at - start >= timedelta(days=10) for at in sent_at)


def test_get_shows_the_page_with_the_score_chosen_and_records_nothing(survey, client):
    _, links = survey
    for link in links:  # a mail scanner opens every link
        assert client.get(link).status_code == 200
    response = client.get(links[7])
    page = response.content.decode()
    assert 'value="7" checked' in page
    assert 'value="8" checked' not in page
    assert 'method="post"' in page and "<textarea" in page
    assert NPSResponse.objects.count() == 0
    assert not Event.objects.filter(name="nps_submitted").exists()


def test_the_page_speaks_the_customers_language(frozen, client):
    _, links = send_survey(frozen, locale="ru")
    page = client.get(links[3]).content.decode()
    assert '<html lang="ru"' in page
    assert "Отправить ответ" in page and "Точно нет" in page


def test_post_records_and_a_second_post_updates_the_same_answer(
    survey, client, django_capture_on_commit_callbacks
):
    message, links = survey
    received = []
    signals.nps_submitted.connect(
        lambda sender, **kw: received.append(kw), weak=False, dispatch_uid="nps-test"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(links[3], {"score": "3", "comment": "Late delivery"})
        assert response.status_code == 200
        first = NPSResponse.objects.get()
        assert (first.score, first.category, first.comment) == (3, "detractor", "Late delivery")
        assert first.message == message and first.contact == message.contact
        assert first.order_ref == "shop.order:1001"
        assert first.flow.slug == "nps-survey"
        assert set(first.categories) == {"Backpacks", "Accessories"}

        # The customer changes their mind: the same row, no second answer.
        with django_capture_on_commit_callbacks(execute=True):
            client.post(links[9], {"score": "9", "comment": "Actually, great support"})
        assert NPSResponse.objects.count() == 1
        again = NPSResponse.objects.get()
        assert (again.pk, again.score, again.category) == (first.pk, 9, "promoter")
        assert again.comment == "Actually, great support"

        # The very same answer again (a double click) changes and sends nothing.
        with django_capture_on_commit_callbacks(execute=True):
            client.post(links[9], {"score": "9", "comment": "Actually, great support"})
    finally:
        signals.nps_submitted.disconnect(dispatch_uid="nps-test")
    assert [kw["created"] for kw in received] == [True, False]
    events = list(Event.objects.filter(name="nps_submitted").order_by("pk"))
    assert [e.data["score"] for e in events] == [3, 9]
    assert events[0].data["category"] == "detractor"
    assert events[0].data["comment"] == "Late delivery"
    assert events[0].order_ref == "shop.order:1001"
    assert events[0].snapshot["number"] == "1001"
    assert events[0].contact == message.contact


def test_get_after_answering_shows_the_answer(survey, client):
    _, links = survey
    client.post(links[6], {"score": "6", "comment": "Meh"})
    page = client.get(links[0].split("?")[0]).content.decode()
    assert 'value="6" checked' in page
    assert "Meh</textarea>" in page


def test_post_needs_no_csrf_token(survey):
    from django.test import Client

    _, links = survey
    response = Client(enforce_csrf_checks=True).post(links[10], {"score": "10"})
    assert response.status_code == 200
    assert NPSResponse.objects.get().score == 10


@pytest.mark.parametrize("score", ["", "11", "-1", "ten"])
def test_an_invalid_score_is_refused(survey, client, score):
    _, links = survey
    response = client.post(links[5], {"score": score})
    assert response.status_code == 400
    assert NPSResponse.objects.count() == 0


def _token(link: str) -> str:
    return link.split("/")[3]


def test_tampered_and_foreign_tokens_are_refused_with_no_change(survey, client):
    message, links = survey
    client.post(links[8], {"score": "8", "comment": "ok"})
    before = NPSResponse.objects.values("score", "comment", "updated_at").get()
    events = Event.objects.count()
    token = _token(links[0])
    other = Message.objects.create(
        enrollment=message.enrollment,
        step=None,
        contact=message.contact,
        to_email=message.to_email,
        category="marketing",
        created_at=message.created_at,
    )
    bad = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # tampered signature
        signing.dumps({"m": str(other.pk)}, salt="something.else"),  # wrong salt
        make_unsubscribe_token(message.contact_id, str(message.pk)),  # another page's token
        signing.dumps({"m": str(message.pk)}),  # no salt at all
        nps.make_nps_token("00000000-0000-0000-0000-000000000000"),  # no such message
        nps.make_nps_token("not-a-uuid"),
    ]
    for value in bad:
        url = reverse("postpurchase:nps", args=[value])
        assert client.get(f"{url}?score=0").status_code == 400, value
        assert client.post(url, {"score": "0", "comment": "hacked"}).status_code == 400, value
    assert NPSResponse.objects.values("score", "comment", "updated_at").get() == before
    assert Event.objects.count() == events
    # A token of another message answers for that message only.
    client.post(reverse("postpurchase:nps", args=[nps.make_nps_token(other.pk)]), {"score": "1"})
    assert NPSResponse.objects.get(message=message).score == 8
    assert NPSResponse.objects.get(message=other).score == 1


def _junk_url() -> str:
    return reverse("postpurchase:nps", args=[nps.make_nps_token("0" * 8)[:-3] + "xyz"])


def test_junk_posts_are_limited_per_client_and_never_block_a_valid_link(survey, client):
    message, links = survey
    # 20 bad-token POSTs per client address and 10 minutes (docs/nps.md), then 429.
    codes = [client.post(_junk_url(), {"score": "1"}).status_code for _ in range(21)]
    assert codes == [400] * 20 + [429]
    # The customer behind the same address (one office, one proxy) still answers.
    assert client.post(links[10], {"score": "10"}).status_code == 200
    assert NPSResponse.objects.get().score == 10
    # Another address is not affected by the junk.
    assert client.post(_junk_url(), {}, REMOTE_ADDR="10.0.0.9").status_code == 400
    # GET is never limited.
    assert client.get(_junk_url()).status_code == 400
    assert client.get(links[0]).status_code == 200


def test_answers_are_limited_per_survey_link(survey, client):
    _, links = survey
    # Each changed answer sends nps_submitted (and may alert staff): 20 POSTs per link
    # and 10 minutes, from any address.
    codes = [
        client.post(links[5], {"score": str(n % 11)}, REMOTE_ADDR=f"10.0.0.{n}").status_code
        for n in range(21)
    ]
    assert codes == [200] * 20 + [429]
    assert NPSResponse.objects.get().score == 8  # the 20th answer, 19 % 11
    page = client.post(links[5], {"score": "1"}, REMOTE_ADDR="10.0.1.1").content.decode()
    assert "Too many attempts" in page
    assert client.get(links[0]).status_code == 200


def test_behind_a_proxy_junk_is_counted_per_forwarded_client(survey, client, settings):
    settings.POSTPURCHASE = {**settings.POSTPURCHASE, "CLIENT_IP": "HTTP_X_FORWARDED_FOR"}
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for n in range(20):
        # What the attacker writes in front of the proxy's entry changes nothing.
        xff = f"{n}.{n}.{n}.{n}, 198.51.100.7"
        response = client.post(_junk_url(), {}, HTTP_X_FORWARDED_FOR=xff, **proxy)
        assert response.status_code == 400
    assert (
        client.post(_junk_url(), {}, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code
        == 429
    )
    # Another customer behind the same proxy is not affected.
    assert (
        client.post(_junk_url(), {}, HTTP_X_FORWARDED_FOR="198.51.100.8", **proxy).status_code
        == 400
    )


@pytest.mark.parametrize(
    ("score", "category"),
    [(0, "detractor"), (6, "detractor"), (7, "passive"), (8, "passive"), (9, "promoter")]
    + [(10, "promoter")],
)
def test_score_categories(score, category):
    assert nps.category_for(score) == category


@pytest.mark.parametrize("score", [-1, 11])
def test_scores_outside_0_10_are_errors(score):
    with pytest.raises(ValueError):
        nps.category_for(score)
