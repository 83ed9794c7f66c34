from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from accounts import api_key_views
from escrows.views import health


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico whatever the page says; the icon lives with the static files
    (its name known once they are collected, so looked up per request)."""
    return HttpResponseRedirect(static("favicon.svg"))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", favicon),
    path("v1/", include("webhooks.api_urls")),
    path("v1/", include("escrows.api.urls")),
    path("settings/api-keys/", api_key_views.api_keys, name="api_keys"),
    path("settings/api-keys/<slug:prefix>/revoke", api_key_views.api_key_revoke, name="api_key_revoke"),
    path("accounts/", include("accounts.urls")),
    path("", include("notifications.urls")),
    path("", include("webhooks.urls")),
    path("", include("escrows.urls")),
]
