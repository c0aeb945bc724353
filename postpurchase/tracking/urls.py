"""Anymail's webhook URLs with each post's tracking events recorded together.

Include these instead of ``anymail.urls`` (same paths, same names, same ``anymail``
namespace)::

    path("anymail/", include("postpurchase.tracking.urls"))

Every view is Anymail's own, wrapped: Anymail still authenticates (basic auth,
signatures) and parses the post; only the recording is batched.
"""

from __future__ import annotations

from anymail.urls import urlpatterns as anymail_urlpatterns
from django.urls import URLPattern

from postpurchase.tracking.batch import batched

app_name = "anymail"

urlpatterns = [
    URLPattern(p.pattern, batched(p.callback), p.default_args, p.name)
    if isinstance(p, URLPattern)
    else p
    for p in anymail_urlpatterns
]
