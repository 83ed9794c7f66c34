from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.contrib.auth.views import (
    LoginView,
    PasswordResetConfirmView,
    PasswordResetDoneView,
    PasswordResetView,
)
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme

from .forms import EmailLoginForm, NewPasswordForm, PasswordResetRequestForm, SignUpForm
from .models import User
from .throttle import forget_account_failures


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return ""


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request) or "dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
        messages.success(request, "Welcome! Your account is ready.")
        return redirect(_next_url(request) or "dashboard")
    return render(request, "accounts/signup.html", {"form": form, "next": _next_url(request)})


class EmailLoginView(LoginView):
    form_class = EmailLoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error("__all__", code="login_locked"):
            response.status_code = 429
        return response


class PasswordResetRequestView(PasswordResetView):
    """Emails a link to set a new password (to active accounts with a password; the page reads
    the same for any email, so it tells no one which emails have accounts)."""

    form_class = PasswordResetRequestForm
    template_name = "accounts/password_reset.html"
    subject_template_name = "accounts/password_reset_subject.txt"
    email_template_name = "accounts/password_reset_email.txt"
    success_url = reverse_lazy("password_reset_done")

    @property
    def extra_email_context(self) -> dict[str, str]:  # type: ignore[override]
        # Links are built on SITE_URL, never on the request's Host header.
        return {"site_url": settings.SITE_URL.rstrip("/")}


class PasswordResetSentView(PasswordResetDoneView):
    template_name = "accounts/password_reset_sent.html"


class PasswordResetSetView(PasswordResetConfirmView):
    """The emailed link: a new password signs the owner in at once and lifts the account's
    failed-login lock (they proved they hold the mailbox)."""

    form_class = NewPasswordForm
    template_name = "accounts/password_reset_set.html"
    post_reset_login = True
    success_url = reverse_lazy("dashboard")

    def form_valid(self, form: "SetPasswordForm[User]") -> HttpResponse:
        response = super().form_valid(form)
        forget_account_failures(self.request, form.user.email)
        messages.success(self.request, "Your password is changed and you are logged in.")
        return response
