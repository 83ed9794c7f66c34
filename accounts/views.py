"""The account pages around django-allauth's: the sign-in page's refusal while failed logins
lock it, and the account page (name, phone; links to email, password, two-factor sign-in)."""

from allauth.account.models import EmailAddress
from allauth.account.views import LoginView as AllauthLoginView
from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from .forms import ProfileForm
from .services import account_profile_update
from .types import AuthenticatedHttpRequest


class LoginView(AllauthLoginView):
    def form_invalid(self, form: Form) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, code="login_locked"):
            response.status_code = 429
        return response


@login_required
@require_http_methods(["GET", "POST"])
def account(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    initial = {"first_name": user.first_name, "last_name": user.last_name, "phone": user.phone}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        account_profile_update(user=user, **form.cleaned_data)
        messages.success(request, "Your details are saved.")
        return redirect("account")
    context = {
        "form": form,
        "email_verified": EmailAddress.objects.filter(
            user=user, email__iexact=user.email, verified=True
        ).exists(),
        "two_factor": Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists(),
    }
    return render(request, "accounts/account.html", context)
