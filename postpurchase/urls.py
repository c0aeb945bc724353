"""Include in the shop's urls: ``path("postpurchase/", include("postpurchase.urls"))``."""

from django.urls import path

from postpurchase.public import views

app_name = "postpurchase"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe_view, name="unsubscribe"),
    path("nps/<str:token>/", views.nps_view, name="nps"),
    path("track/open/<str:token>/", views.track_open_view, name="track_open"),
    path("track/click/<str:token>/", views.track_click_view, name="track_click"),
    path("preferences/<str:token>/", views.preferences_view, name="preferences"),
]
