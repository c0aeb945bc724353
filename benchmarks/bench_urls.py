"""URLs for the benchmark settings: postpurchase's own (unsubscribe links), and
Anymail's webhooks for benchmarks/webhooks.py (plain, and batched)."""

import os

from django.urls import include, path

urlpatterns = [path("postpurchase/", include("postpurchase.urls"))]
if os.environ.get("BENCH_WEBHOOKS"):
    urlpatterns += [
        path("anymail/", include("anymail.urls")),  # events recorded one by one
        path("batched/anymail/", include("postpurchase.tracking.urls", namespace="batched")),
    ]
