from django.urls import path

from .views import inbox, preferences

urlpatterns = [
    path("notifications/", inbox.notification_list, name="notifications"),
    path("notifications/read-all/", inbox.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/", inbox.notification_open, name="notification_open"),
    path("notifications/<int:pk>/read/", inbox.notification_read, name="notification_read"),
    path("settings/notifications/", preferences.notification_settings, name="notification_settings"),
    path("notifications/unsubscribe/<str:token>/", preferences.unsubscribe, name="notification_unsubscribe"),
]
