"""Resend failed messages (after an ESP outage, a fixed configuration), from the shell."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from postpurchase.delivery import RESENDABLE, resend_messages
from postpurchase.models import Message

CHUNK = 500


class Command(BaseCommand):
    help = (
        "Send failed post-purchase messages again (and, with --unknown, those whose "
        "outcome is unknown after a crash), whatever their enrollment does now."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="Only messages created at or after this ISO date-time.")
        parser.add_argument("--flow", type=int, help="Only messages of this flow (its id).")
        parser.add_argument(
            "--unknown",
            action="store_true",
            help="Also messages held as 'outcome unknown' (they may be delivered already).",
        )
        parser.add_argument("--limit", type=int, default=None, help="At most this many.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be resent."
        )

    def handle(self, *args, since=None, flow=None, unknown=False, limit=None, **options):
        statuses = list(RESENDABLE) if unknown else [Message.Status.FAILED]
        messages = Message.objects.filter(status__in=statuses).order_by("created_at")
        if since:
            moment = parse_datetime(since)
            if not isinstance(moment, datetime):
                raise CommandError(f"--since: {since!r} is not an ISO date-time.")
            messages = messages.filter(created_at__gte=moment)
        if flow is not None:
            messages = messages.filter(enrollment__flow_id=flow)
        if limit is not None:
            if limit <= 0:
                raise CommandError("--limit must be positive.")
            messages = messages[:limit]
        ids = list(messages.values_list("pk", flat=True))
        if options["dry_run"]:
            self.stdout.write(f"{len(ids)} message(s) would be resent.")
            return
        totals = {"sent": 0, "failed": 0, "suppressed": 0, "skipped": 0}
        for start in range(0, len(ids), CHUNK):
            chunk = list(Message.objects.filter(pk__in=ids[start : start + CHUNK]))
            for key, value in resend_messages(chunk).items():
                totals[key] = totals.get(key, 0) + value
        self.stdout.write(
            "Resent {n}: {sent} sent, {failed} failed again, {suppressed} suppressed, "
            "{skipped} skipped.".format(n=len(ids), **totals)
        )
        if totals["failed"]:
            raise SystemExit(1)
