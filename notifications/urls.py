from django.urls import path

from .views import preferences

urlpatterns = [
    path("settings/notifications/", preferences.notification_settings, name="notification_settings"),
    path("notifications/unsubscribe/<str:token>/", preferences.unsubscribe, name="notification_unsubscribe"),
]
