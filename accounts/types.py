"""Who acts, as the type checker sees it.

`Actor` is what a service records as having made a change: a user (a party, or staff in the
admin), or None for the system (a timer, a task). A view behind sign-in (`login_required`, or
the API's `IsAuthenticated`) annotates its request as `AuthenticatedHttpRequest` or
`AuthenticatedRequest`, whose `user` is always a User, never the anonymous user. At run time
these are the plain request classes."""

from typing import TYPE_CHECKING

from django.http import HttpRequest
from rest_framework.request import Request

from .models import User

type Actor = User | None

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    class AuthenticatedHttpRequest(HttpRequest):
        user: User
        htmx: HtmxDetails  # django-htmx's middleware sets it on every request

    class AuthenticatedRequest(Request):
        @property
        def user(self) -> User: ...
        @user.setter
        def user(self, value: User) -> None: ...

else:
    AuthenticatedHttpRequest = HttpRequest
    AuthenticatedRequest = Request

__all__ = ["Actor", "AuthenticatedHttpRequest", "AuthenticatedRequest", "User"]
