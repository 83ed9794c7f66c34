import secrets
from typing import ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.crypto import get_random_string
from rest_framework_api_key.crypto import KeyGenerator
from rest_framework_api_key.models import AbstractAPIKey
from rest_framework_api_key.models import APIKeyManager as LibraryAPIKeyManager

CUSTOMER_BLOCKED = "This customer is blocked"
MAY_NOT_BUY = "This customer may not buy"
MAY_NOT_SELL = "This customer may not sell"
# The same refusals as the pages say them to the person refused.
FOR_PERSON = {
    CUSTOMER_BLOCKED: "Your account is blocked by the platform that manages it. Ask them to unblock it.",
    MAY_NOT_BUY: (
        "Your account may not pay for escrows: the platform that manages it turned buying off. "
        "Ask them to turn it back on."
    ),
    MAY_NOT_SELL: (
        "Your account may not create escrows: the platform that manages it turned selling off. "
        "Ask them to turn it back on."
    ),
}


def new_customer_id() -> str:
    return "cus_" + secrets.token_hex(12)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """One person or business. Buyer and seller are roles per escrow, not kinds of account."""

    email = models.EmailField(unique=True)
    customer_id = models.CharField(max_length=40, unique=True, default=new_customer_id, editable=False)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    # A platform account creates customers through the API and then acts for them.
    is_platform = models.BooleanField(default=False)
    created_by_platform = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="platform_customers"
    )
    # What the platform that created a customer lets them do (docs/api.md, customers): pay
    # escrows as buyer, create escrows as seller; a blocked customer does nothing at all.
    can_buy = models.BooleanField(default=True)
    can_sell = models.BooleanField(default=True)
    blocked_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email

    @property
    def is_blocked(self) -> bool:
        return self.blocked_at is not None

    # Why this customer may not act now, buy or sell (None: they may). The services refuse with
    # these words (escrows/services/_internal.py), sign-in and the APIs' authentication too.
    def action_refusal(self) -> str | None:
        return CUSTOMER_BLOCKED if self.is_blocked else None

    def buy_refusal(self) -> str | None:
        return self.action_refusal() or (None if self.can_buy else MAY_NOT_BUY)

    def sell_refusal(self) -> str | None:
        return self.action_refusal() or (None if self.can_sell else MAY_NOT_SELL)


# -- API keys ----------------------------------------------------------------------------------


class SecretKeyGenerator(KeyGenerator):
    """Keys look like `sk_test_AbCd1234.<32 random chars>`; the part before the dot is the
    public prefix stored in clear (to find the row), the whole key is stored only as a hash."""

    def get_prefix(self) -> str:
        mode = "test" if settings.ESCROW_TEST_MODE else "live"
        return f"sk_{mode}_{get_random_string(8)}"


class APIKeyManager(LibraryAPIKeyManager):
    key_generator = SecretKeyGenerator(secret_key_length=32)

    def get_usable_keys(self) -> models.QuerySet:
        return super().get_usable_keys().select_related("user")


class APIKey(AbstractAPIKey):
    # Wider than the library's defaults because our prefix carries `sk_test_`.
    id = models.CharField(max_length=200, unique=True, primary_key=True, editable=False)
    prefix = models.CharField(max_length=24, unique=True, editable=False)
    user = models.ForeignKey("User", on_delete=models.CASCADE, related_name="api_keys")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[APIKeyManager] = APIKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        indexes = [models.Index(fields=["user", "-created"], name="apikey_user_recent")]


# -- Idempotency-Key records -------------------------------------------------------------------


class IdempotencyRecord(models.Model):
    """One POST/PUT made with an `Idempotency-Key`, per acting owner. The unique constraint is
    what makes a concurrent duplicate lose (and get a 409) on any number of processes."""

    owner = models.ForeignKey("User", on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    # Null while the first request is still running.
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]
