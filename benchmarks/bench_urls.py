"""URLs for the benchmark settings: postpurchase's own (unsubscribe links), and
Anymail's webhooks for benchmarks/webhooks.py."""

import os

from django.urls import include, path

urlpatterns = [path("postpurchase/", include("postpurchase.urls"))]
if os.environ.get("BENCH_WEBHOOKS"):
    urlpatterns.append(path("anymail/", include("anymail.urls")))
