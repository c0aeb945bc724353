"""The survey page's "I would like to write a public review": stored on the answer, in
the nps_submitted event, and a change of it alone is a change."""

from __future__ import annotations

import pytest

from postpurchase.models import Event, NPSResponse

from .helpers import send_survey

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]


def test_the_opt_in_is_stored_and_in_the_event(frozen, client):
    _, links = send_survey(frozen)
    page = client.get(links[3]).content.decode()
    assert 'name="review_opt_in"' in page and "public review" in page
    client.post(links[3], {"score": "3", "review_opt_in": "1"})
    response = NPSResponse.objects.get()
    assert (response.score, response.review_opt_in) == (3, True)
    event = Event.objects.get(name="nps_submitted")
    assert event.data["review_opt_in"] is True and event.data["category"] == "detractor"
    assert 'name="review_opt_in" value="1" checked' in client.get(links[3]).content.decode()


def test_changing_only_the_opt_in_records_a_new_event(frozen, client):
    _, links = send_survey(frozen)
    client.post(links[9], {"score": "9"})
    client.post(links[9], {"score": "9"})  # the same: nothing new
    client.post(links[9], {"score": "9", "review_opt_in": "1"})
    events = Event.objects.filter(name="nps_submitted").order_by("pk")
    assert [e.data["review_opt_in"] for e in events] == [False, True]
