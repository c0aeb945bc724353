"""The analytics page's index: on PostgreSQL it carries the roll-ups (the page reads it
alone); elsewhere it is a plain index, and no system check warns about it."""

from __future__ import annotations

import pytest
from django.core import checks
from django.db import connection

pytestmark = pytest.mark.django_db


def test_no_system_check_warns_about_the_index():
    # An "include" on the model would give models.W040 on every command of a SQLite shop.
    assert [m.id for m in checks.run_checks() if m.id == "models.W040"] == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs DATABASE_URL=postgres://...")
def test_on_postgresql_the_index_includes_the_rollups():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'pp_message_step_sent'")
        (definition,) = cursor.fetchone()
    assert "(step_id, sent_at)" in definition
    assert "INCLUDE (delivered_at, bounced_at, opened_at, clicked_at" in definition
