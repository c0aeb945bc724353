from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from postpurchase import clock
from postpurchase.testing.factories import (
    ConversionFactory,
    DelayStepFactory,
    EmailStepFactory,
)

from .helpers import email, quiet_flow

#: The day the known dataset's first step sent its emails (UTC).
DAY = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def dataset(db):
    """A flow with two email steps and a delay, and what their emails did.

    Step 1 (10 emails on Nov 10): 1 bounced, 8 delivered, 6 opened by people (9 opens),
    3 clicked (4 clicks), 5 machine opens, 2 machine clicks, 1 unsubscribed, 1
    complaint; 2 orders (1000 + 500 RUB). Step 3 (4 emails on Nov 11): 2 opened, 1
    clicked, 1 order (20 EUR), 1 goal. One email of step 1 sent on Oct 1 (outside the
    range) with an order, and one email of another flow, on Nov 10."""
    flow = quiet_flow(name="Thank you", goal_event="review_submitted")
    first = EmailStepFactory(flow=flow, position=1, name="Thanks")
    DelayStepFactory(flow=flow, position=2)
    third = EmailStepFactory(flow=flow, position=3, name="Come back")
    with clock.frozen_at(DAY):
        step1 = []
        for i in range(10):
            step1.append(
                email(
                    flow,
                    step=first,
                    bounced_at=DAY if i == 0 else None,
                    delivered_at=DAY if i >= 2 else None,
                    opened_at=DAY if 2 <= i < 8 else None,
                    opens=(2 if i < 5 else 1) if 2 <= i < 8 else 0,
                    clicked_at=DAY if 2 <= i < 5 else None,
                    clicks=2 if i == 2 else (1 if 2 < i < 5 else 0),
                    machine_opens=1 if i >= 5 else 0,
                    machine_clicks=1 if i in (8, 9) else 0,
                    unsubscribed_at=DAY if i == 3 else None,
                    complained_at=DAY if i == 9 else None,
                )
            )
        ConversionFactory(message=step1[2], revenue=Decimal("1000"), currency="RUB")
        ConversionFactory(message=step1[3], revenue=Decimal("500"), currency="RUB")
    with clock.frozen_at(DAY + timedelta(days=1)):
        step3 = [
            email(
                flow,
                step=third,
                opened_at=DAY if i < 2 else None,
                opens=1 if i < 2 else 0,
                clicked_at=DAY if i == 0 else None,
                clicks=1 if i == 0 else 0,
            )
            for i in range(4)
        ]
        ConversionFactory(message=step3[0], revenue=Decimal("20"), currency="EUR")
        ConversionFactory(message=step3[1], kind="goal", key="goal:x", revenue=None, currency="")
    with clock.frozen_at(datetime(2026, 10, 1, tzinfo=UTC)):
        old = email(flow, step=first)
        ConversionFactory(message=old, revenue=Decimal("7777"))
    with clock.frozen_at(DAY):
        email(quiet_flow(), opened_at=DAY)
    return {"flow": flow, "first": first, "third": third}
