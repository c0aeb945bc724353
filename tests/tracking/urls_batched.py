"""The example shop's URLs with ESP webhooks served by ``postpurchase.tracking.urls``."""

from django.urls import include, path

from example_shop.urls import urlpatterns as shop

urlpatterns = [path("anymail/", include("postpurchase.tracking.urls"))] + [
    p for p in shop if str(p.pattern) != "anymail/"
]
