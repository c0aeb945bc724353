"""URLs for the benchmark settings: postpurchase's own (unsubscribe links)."""

from django.urls import include, path

urlpatterns = [path("postpurchase/", include("postpurchase.urls"))]
