"""A batch of enrollments standing on an email step runs through the step together:
one set of statements and one concurrent send for the batch, not one per enrollment."""

from __future__ import annotations

import pytest
from django.test.utils import isolate_apps

from postpurchase.engine.scheduler import _batches
from postpurchase.models import EmailStep
from postpurchase.results import Next

from ..core.helpers import queries_to_send

pytestmark = pytest.mark.django_db


def test_an_email_step_writes_a_batch_with_as_many_queries_as_a_single_email(postmark):
    queries_to_send(1, "warm")  # caches (content types, templates) filled once
    one = queries_to_send(1, "a")
    twelve = queries_to_send(12, "b")
    assert twelve == one
    assert sum(postmark.message_ids().values()) == 14


@isolate_apps("postpurchase")
def test_an_email_step_subclass_with_its_own_execute_keeps_it():
    class OwnExecuteEmailStep(EmailStep):
        """A shop's email step that says itself what it does for each enrollment."""

        class Meta:
            proxy = True
            app_label = "postpurchase"

        def execute(self, ctx):
            return Next()

    assert _batches(EmailStep)
    assert not _batches(OwnExecuteEmailStep)
