"""The example shop's URLs with ESP webhooks served by ``anymail.urls``."""

from django.urls import include, path

from example_shop.urls import urlpatterns as shop

urlpatterns = [path("anymail/", include("anymail.urls"))] + [
    p for p in shop if str(p.pattern) != "anymail/"
]
