"""Include in the shop's urls: ``path("postpurchase/", include("postpurchase.urls"))``."""

from django.urls import path

from postpurchase.public import views

app_name = "postpurchase"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe_view, name="unsubscribe"),
    path("nps/<str:token>/", views.nps_view, name="nps"),
    path("preferences/<str:token>/", views.preferences_view, name="preferences"),
]
