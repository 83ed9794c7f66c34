from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import (
    AuthenticationForm,
    BaseUserCreationForm,
    PasswordResetForm,
    SetPasswordForm,
)
from django.urls import reverse
from django.utils.html import format_html

from .models import User
from .throttle import LoginLock, lockout_minutes, login_lock


class NoColonLabels:
    """Labels read "Email", not "Email:" (and screen readers say them that way too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class SignUpForm(NoColonLabels, BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")
        labels = {"first_name": "First name", "last_name": "Last name"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"autocomplete": "email", "autofocus": True})
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"
        for name in ("password1", "password2"):
            self.fields[name].widget.attrs["autocomplete"] = "new-password"
        self.fields[
            "password1"
        ].help_text = (
            "At least 8 characters; not a common password, not only digits, not like your name or email."
        )
        self.fields["password2"].help_text = ""

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists. Log in instead.")
        return email


def login_lock_message(lock: LoginLock) -> str:
    """What a refused login is told. The same for any email, registered or not; resetting the
    password signs the owner in at once, whichever limit refused them."""
    who = "for this account" if lock == "account" else "from your network"
    return format_html(
        'Too many failed logins {}. Try again in {} minutes, or <a href="{}">reset your password</a> '
        "to log in now.",
        who,
        lockout_minutes(),
        reverse("password_reset"),
    )


class LoginLockCheck:
    """A locked login is refused with the lock's own message, not as a wrong password (the
    authentication backend refuses it either way)."""

    request: Any
    cleaned_data: dict[str, Any]

    def clean(self) -> dict[str, Any]:
        lock = login_lock(self.request, self.cleaned_data.get("username"))
        if lock is not None:
            raise forms.ValidationError(login_lock_message(lock), code="login_locked")
        return super().clean()  # type: ignore[misc]


class AdminLoginForm(LoginLockCheck, AdminAuthenticationForm):
    pass


class EmailLoginForm(NoColonLabels, LoginLockCheck, AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    def clean(self) -> dict[str, Any]:
        if self.cleaned_data.get("username"):
            self.cleaned_data["username"] = self.cleaned_data["username"].strip().lower()
        return super().clean()


class PasswordResetRequestForm(NoColonLabels, PasswordResetForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"autofocus": True, "autocomplete": "email"})


class NewPasswordForm(NoColonLabels, SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[
            "new_password1"
        ].help_text = (
            "At least 8 characters; not a common password, not only digits, not like your name or email."
        )
        self.fields["new_password2"].help_text = ""
