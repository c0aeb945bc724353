import pytest
from django.urls import reverse

from postpurchase.flows.diagram import flow_diagram

from .helpers import place, run_clock

pytestmark = pytest.mark.django_db


def test_counts_follow_the_enrollments(default_flow, frozen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        place(number="1")
        place(number="2")
    diagram = flow_diagram(default_flow)
    assert diagram.enrolled == 2
    first, delay = diagram.nodes[0], diagram.nodes[1]
    assert (first.sent, first.waiting) == (2, 0)
    assert delay.waiting == 2
    assert delay.summary == "2 d after the trigger event"
    review_delay = diagram.nodes[3]
    assert review_delay.summary == (
        "7 d after the trigger event, and until the products can be judged"
    )
    run_clock(frozen)
    diagram = flow_diagram(default_flow)
    assert diagram.completed == 2
    assert [n.sent for n in diagram.nodes] == [2, 0, 2, 0, 2]


def test_an_order_placed_in_the_shop_shows_on_the_admin_diagram(
    admin_client, default_flow, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        place()
    page = admin_client.get(reverse("admin:postpurchase_flow_change", args=[default_flow.pk]))
    body = page.content.decode()
    assert 'class="pp-diagram"' in body
    assert "1 enrolled" in body
    assert "1 sent" in body
