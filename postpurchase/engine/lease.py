"""A worker's hold on the enrollments it claimed, checked and renewed while it works.

A claim stamps its enrollments with a token and an expiry (``LEASE_SECONDS``). Another
worker may take them over once that expiry has passed, so a worker must stop acting on
them before then: it renews the lease while it works (:meth:`Lease.hold` before each
group of ESP calls, :meth:`Lease.renew_if_due` while it waits on the ESP), and a
sending thread asks :meth:`Lease.valid` right before each call. Rows whose token
changed (taken over) or that left the active state (exited by an event or by staff)
drop out of the lease at the next renewal and get nothing more.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction

from postpurchase import clock
from postpurchase.conf import get_setting
from postpurchase.models import Enrollment


class Lease:
    def __init__(self, tokens: Iterable, expires_at: datetime | None, ids: Iterable[int]):
        self.tokens = {t for t in tokens if t is not None}
        self.ids = set(ids)
        self.seconds = get_setting("LEASE_SECONDS")
        # Stop a little before the expiry the other workers see (clocks drift).
        self.margin = min(self.seconds / 10, 5.0)
        left = (expires_at - clock.now()).total_seconds() if expires_at else self.seconds
        self._lock = threading.Lock()
        self._deadline = time.monotonic() + left
        self._renewed = time.monotonic()

    @classmethod
    def of(cls, enrollments: list[Enrollment]) -> Lease | None:
        """The lease of claimed enrollments; None when none was claimed (a caller that
        runs ``process()`` on enrollments it holds some other way)."""
        if not any(e.lease_token for e in enrollments):
            return None
        expiries = [e.lease_expires_at for e in enrollments if e.lease_expires_at]
        return cls(
            (e.lease_token for e in enrollments),
            min(expiries) if expiries else None,
            (e.pk for e in enrollments),
        )

    def valid(self, enrollment_id: int | None = None) -> bool:
        """Still ours, by this process's clock (safe to call from any thread)."""
        with self._lock:
            if enrollment_id is not None and enrollment_id not in self.ids:
                return False
            return time.monotonic() < self._deadline - self.margin

    def hold(self, ids: Iterable[int], now: datetime | None = None) -> set[int]:
        """Those of ``ids`` still ours and active (one indexed read of just those rows),
        renewing the whole lease first when a third of it has passed. Runs in the
        caller's transaction when there is one."""
        wanted = [i for i in ids if i in self.ids]
        if not wanted or not self.tokens:
            return set()
        self.renew_if_due(now)
        if not self.valid():
            # Expired: another worker may have claimed these rows already.
            self._drop(list(self.ids))
            return set()
        held = self._still_held(wanted)
        self._drop(set(wanted) - held)
        return held

    def renew_if_due(self, now: datetime | None = None) -> None:
        """Push the expiry of every row still ours ``LEASE_SECONDS`` ahead, once a third
        of the lease has passed (a renewal rewrites the rows: not at every call)."""
        if time.monotonic() - self._renewed < self.seconds / 3 or not self.ids:
            return
        if not self.valid():
            self._drop(list(self.ids))
            return
        now = now or clock.now()
        mine = list(self.ids)
        with transaction.atomic():
            held = self._still_held(mine)
            if held:
                Enrollment.objects.filter(pk__in=held, lease_token__in=self.tokens).update(
                    lease_expires_at=now + timedelta(seconds=self.seconds)
                )
        with self._lock:
            self._deadline = time.monotonic() + self.seconds
            self._renewed = time.monotonic()
        self._drop(set(mine) - held)

    def _still_held(self, ids: list[int]) -> set[int]:
        """Those of ``ids`` that still carry our token and are active."""
        return set(
            Enrollment.objects.filter(
                pk__in=ids, lease_token__in=self.tokens, status=Enrollment.Status.ACTIVE
            ).values_list("pk", flat=True)
        )

    def _drop(self, ids: Iterable[int]) -> None:
        with self._lock:
            self.ids.difference_update(ids)
