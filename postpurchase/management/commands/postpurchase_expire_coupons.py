"""Expire coupons past their validity and tell the shop adapter (``coupon_expired``)."""

from django.core.management.base import BaseCommand

from postpurchase.coupons import expire_coupons


class Command(BaseCommand):
    help = (
        "Mark coupons whose validity ended as expired and call the adapter's "
        "coupon_expired(coupon) once for each. Run it daily (cron), or schedule the "
        "Celery task postpurchase.expire_coupons."
    )

    def handle(self, *args, **options):
        count = expire_coupons()
        self.stdout.write(f"Expired {count} coupon(s).")
