from typing import Any

from allauth.account import forms as allauth_forms
from allauth.mfa.base import forms as mfa_forms
from allauth.mfa.totp import forms as totp_forms
from django import forms
from django.urls import reverse
from django.utils.html import format_html

from .models import CUSTOMER_BLOCKED, FOR_PERSON, User
from .throttle import LoginLock, lockout_minutes, login_lock


class NoColonLabels:
    """Labels read "Email", not "Email:" (and screen readers say them that way too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


# The help text under a new password's field.
PASSWORD_HELP = "At least 8 characters; not a common password, not only digits, not like your name or email."  # noqa: S105, E501


class SignUpForm(NoColonLabels, allauth_forms.SignupForm):
    """Email, name and a password; the email is verified with a code before the account acts."""

    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "Email"
        self.fields["email"].widget.attrs.update({"autocomplete": "email", "autofocus": True})
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"
        self.fields["password1"].help_text = PASSWORD_HELP
        self.fields["password2"].label = "Password confirmation"
        for name in ("email", "password1", "password2"):
            self.fields[name].widget.attrs.pop("placeholder", None)


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


class EmailLoginForm(NoColonLabels, allauth_forms.LoginForm):
    """Email and password, refused with the lock's own message while failed logins lock it (the
    authentication backend refuses it either way)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Email"
        self.fields["login"].widget.attrs.update({"autofocus": True, "autocomplete": "email"})
        self.fields["password"].help_text = ""
        for field in self.fields.values():
            field.widget.attrs.pop("placeholder", None)

    def clean_login(self) -> str:
        return super().clean_login().lower()

    def clean(self) -> dict[str, Any]:
        if not self.errors:  # the fields are clean: the email is known
            lock = login_lock(self.request, self.cleaned_data.get("login"))
            if lock is not None:
                raise forms.ValidationError(login_lock_message(lock), code="login_locked")
        try:
            return super().clean()
        except forms.ValidationError:
            # The backend refuses a blocked customer like a wrong password; one who gave the
            # right password is told why instead.
            blocked = User.objects.filter(
                email=self.cleaned_data.get("login") or "", blocked_at__isnull=False
            ).first()
            if blocked is not None and blocked.check_password(self.cleaned_data.get("password") or ""):
                raise forms.ValidationError(FOR_PERSON[CUSTOMER_BLOCKED], code="customer_blocked") from None
            raise


class PasswordResetRequestForm(NoColonLabels, allauth_forms.ResetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "Email"
        self.fields["email"].widget.attrs.update({"autofocus": True, "autocomplete": "email"})
        self.fields["email"].widget.attrs.pop("placeholder", None)


class NewPasswordForm(NoColonLabels, allauth_forms.ResetPasswordKeyForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        new_password_fields(self)


class ChangePasswordForm(NoColonLabels, allauth_forms.ChangePasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["oldpassword"].label = "Current password"
        self.fields["oldpassword"].widget.attrs.pop("placeholder", None)
        new_password_fields(self)


class SetPasswordForm(NoColonLabels, allauth_forms.SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        new_password_fields(self)


class AddEmailForm(NoColonLabels, allauth_forms.AddEmailForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "New email"
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})
        self.fields["email"].widget.attrs.pop("placeholder", None)


def new_password_fields(form: forms.Form) -> None:
    """A new password's two fields, labelled and explained as everywhere on the site."""
    form.fields["password1"].label = "New password"
    form.fields["password1"].help_text = PASSWORD_HELP
    form.fields["password2"].label = "New password confirmation"
    for name in ("password1", "password2"):
        form.fields[name].widget.attrs.pop("placeholder", None)


class ProfileForm(NoColonLabels, forms.Form):
    """The account page's own details: name and phone (email and password have their own pages)."""

    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    phone = forms.CharField(label="Phone", max_length=40, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"
        self.fields["phone"].widget = forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"})


class PlainLabels(NoColonLabels):
    """Labels without a colon and fields without a placeholder repeating them."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.pop("placeholder", None)


class EmailCodeForm(PlainLabels, allauth_forms.ConfirmEmailVerificationCodeForm):
    pass


class ChangeEmailForm(PlainLabels, allauth_forms.ChangeEmailForm):
    pass


class ReauthenticateForm(PlainLabels, allauth_forms.ReauthenticateForm):
    pass


class TwoFactorCodeForm(PlainLabels, mfa_forms.AuthenticateForm):
    pass


class TwoFactorReauthenticateForm(PlainLabels, mfa_forms.ReauthenticateForm):
    pass


class ActivateTwoFactorForm(PlainLabels, totp_forms.ActivateTOTPForm):
    pass
