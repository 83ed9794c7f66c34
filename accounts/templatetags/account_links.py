"""The header's "Log in" and "Sign up" links bring a visitor back to the page they were on (a
payment link, say) once they have signed in or up."""

from urllib.parse import urlencode

from django import template
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

register = template.Library()


@register.simple_tag
def come_back_query(request: HttpRequest | None) -> str:
    """`?next=<this page>` for the sign-in links; on the account pages themselves the `next`
    they carry (if safe) or nothing; on the home page nothing (the dashboard comes next)."""
    if request is None:
        return ""
    if request.path.startswith("/accounts/"):
        target = request.GET.get("next", "")
        safe = url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        target = target if safe else ""
    elif request.path == "/":
        target = ""
    else:
        target = request.get_full_path()
    return "?" + urlencode({"next": target}) if target else ""
