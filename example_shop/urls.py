from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # ESP webhooks (delivery, bounces, opens, clicks), Anymail's views with each post's
    # events recorded together: see docs/tracking.md.
    path("anymail/", include("postpurchase.tracking.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("postpurchase/", include("postpurchase.urls")),
    path("", include("example_shop.shop.urls")),
]
