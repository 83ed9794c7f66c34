"""Escrows and their milestones: terms, status machines, and the rule predicates the services
and the pages both call."""

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django_fsm import FSMField, transition

from ..money import format_minor, format_money


def random_id(prefix: str, nbytes: int = 12) -> str:
    return prefix + secrets.token_hex(nbytes)


def new_escrow_id() -> str:
    return random_id("intent_")


def new_payment_token() -> str:
    # Separate from the id and unguessable: whoever holds it can see and pay the escrow.
    return "pt_" + secrets.token_urlsafe(24)


def new_milestone_id() -> str:
    return random_id("milestone_")


def new_settlement_id() -> str:
    return random_id("stl_")


def new_payment_id() -> str:
    return random_id("pay_")


def new_event_id() -> str:
    return random_id("evt_")


class EscrowStatus(models.TextChoices):
    AWAITING_PAYMENT = "AWAITING_PAYMENT", "Awaiting payment"
    OPENED = "OPENED", "Opened"
    DISPUTED = "DISPUTED", "Disputed"
    COMPLETED = "COMPLETED", "Completed"
    REFUNDED = "REFUNDED", "Refunded"
    CANCELLED = "CANCELLED", "Cancelled"


CLOSED_STATUSES = {EscrowStatus.COMPLETED, EscrowStatus.REFUNDED, EscrowStatus.CANCELLED}

# How often, and how many times, a seller may email the buyer the payment link again.
INVITATION_RESEND_INTERVAL = timedelta(minutes=10)
INVITATION_RESENDS_MAX = 5
# The events that email the buyer named by email the payment link: the first and each resend.
INVITATION_EVENT_KINDS = ("escrow.created", "escrow.invitation_resent")


class SettlementType(models.TextChoices):
    MILESTONE = "MILESTONE", "Milestone"
    STANDARD = "STANDARD", "Standard"


class ReleaseType(models.TextChoices):
    """When held money goes to the seller (Finternet's release types). MILESTONE_LOCKED: stage by
    stage. DELIVERY_PROOF: once the buyer confirms the delivery, or on the proof itself with
    auto-release on proof. TIME_LOCKED: once delivered and the time lock has passed (the timer
    releases it). AUTO_RELEASE: on the proof of delivery."""

    MILESTONE_LOCKED = "MILESTONE_LOCKED", "Milestone locked"
    DELIVERY_PROOF = "DELIVERY_PROOF", "Delivery proof"
    TIME_LOCKED = "TIME_LOCKED", "Time locked"
    AUTO_RELEASE = "AUTO_RELEASE", "Auto release"


class WhoPays(models.TextChoices):
    BUYER = "buyer", "Buyer"
    SELLER = "seller", "Seller"
    SPLIT = "split", "Split"


# A standard escrow's delivery window: maxDelivery of these units (deliveryTimeline).
DELIVERY_TIMELINE_UNITS = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),
}


class SettlementMethod(models.TextChoices):
    OFF_RAMP_MOCK = "OFF_RAMP_MOCK", "Off-ramp (mock)"
    # To the person's connected Stripe account (escrows/stripe_connect.py), while Connect is on.
    STRIPE_TRANSFER = "STRIPE_TRANSFER", "Stripe transfer"


# Why held money cannot move while a chargeback of the card that paid it is open (services
# refuse with it; the escrow page shows it in place of the buttons).
CHARGEBACK_FREEZE_WORDS = (
    "The buyer's card payment for this escrow is being disputed with their bank (a chargeback), "
    "so the money still held can be neither released nor refunded until the bank decides"
)


class Escrow(models.Model):
    public_id = models.CharField(max_length=40, unique=True, default=new_escrow_id, editable=False)
    payment_token = models.CharField(max_length=64, unique=True, default=new_payment_token, editable=False)
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escrows_selling"
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="escrows_buying",
        null=True,
        blank=True,
    )
    # When the seller names a buyer by email before the buyer has an account.
    buyer_email = models.EmailField(blank=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=8)
    amount = models.BigIntegerField(help_text="Minor units")
    fee = models.BigIntegerField(help_text="Minor units, paid by the buyer on top of amount")
    fee_schedule_version = models.CharField(max_length=40)
    who_pays = models.CharField(max_length=10, choices=WhoPays.choices, default=WhoPays.BUYER)
    settlement_type = models.CharField(
        max_length=10, choices=SettlementType.choices, default=SettlementType.MILESTONE
    )
    release_type = models.CharField(
        max_length=20, choices=ReleaseType.choices, default=ReleaseType.MILESTONE_LOCKED
    )
    auto_release_on_proof = models.BooleanField(default=False)
    # TIME_LOCKED: released at this time, and only once delivered (the timer releases it).
    time_lock_until = models.DateTimeField(null=True, blank=True)
    # When the seller proved delivery of a standard escrow (a milestone escrow's stages keep
    # their own delivery).
    delivered_at = models.DateTimeField(null=True, blank=True)
    intent_type = models.CharField(max_length=40, blank=True)
    settlement_method = models.CharField(max_length=20, choices=SettlementMethod.choices, blank=True)
    settlement_destination = models.CharField(max_length=200, blank=True)
    max_delivery = models.PositiveIntegerField(null=True, blank=True)
    delivery_timeline = models.CharField(max_length=10, blank=True)
    total_quantity = models.PositiveIntegerField(null=True, blank=True)
    category_id = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    inspection_period = models.DurationField()
    expires_at = models.DateTimeField()
    # Goes up with every change to what the buyer would pay for (an edit, an added milestone).
    # A payment names the version its payer was shown and is refused if this moved on since.
    terms_version = models.PositiveIntegerField(default=1)

    status = FSMField(default=EscrowStatus.AWAITING_PAYMENT, choices=EscrowStatus.choices, protected=True)

    funded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # When the seller took the money of a standard escrow whose delivery window had passed
    # without the buyer confirming or disputing (services.escrow_claim_funds).
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # A chargeback of the card that paid this escrow is open at the card network: its money still
    # held may be neither released nor refunded until it closes (services/stripe_refunds.py).
    # On the row, so the check every release makes reads nothing more.
    frozen_by_chargeback = models.BooleanField(default=False)

    # Not a column: the milestones a service read under this escrow's lock, as the service left
    # them (services._internal._milestones sets it). Only for answering about that same change.
    loaded_milestones: list["Milestone"] | None = None

    class Meta:
        indexes = [
            # Lists are ordered newest first with the id as tie-breaker (keyset pagination):
            # the index gives that order outright, so a page reads only its rows, no sort.
            models.Index(fields=["seller", "-created_at", "-id"], name="escrow_seller_keyset"),
            models.Index(fields=["buyer", "-created_at", "-id"], name="escrow_buyer_keyset"),
            models.Index(fields=["status", "expires_at"], name="escrow_status_expiry"),
            # The Buying list finds the invitations to a signed-up user's email (invited_to).
            models.Index(
                fields=["buyer_email"],
                condition=Q(buyer__isnull=True, status="AWAITING_PAYMENT") & ~Q(buyer_email=""),
                name="escrow_invited_buyer_email",
            ),
            # The time lock timer's pick, every minute: delivered time-locked escrows still held.
            models.Index(
                fields=["time_lock_until"],
                condition=Q(release_type="TIME_LOCKED", status="OPENED", delivered_at__isnull=False),
                name="escrow_time_lock_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="escrow_amount_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="escrow_fee_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.title}"

    @property
    def inspection_days(self) -> int:
        """The inspection period in whole days, as the seller chose it."""
        return self.inspection_period.days

    # -- transitions: status only; services do everything else ---------------------------
    @transition(field=status, source=EscrowStatus.AWAITING_PAYMENT, target=EscrowStatus.OPENED)
    def fund(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.OPENED, target=EscrowStatus.COMPLETED)
    def complete(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.AWAITING_PAYMENT, target=EscrowStatus.CANCELLED)
    def cancel(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.AWAITING_PAYMENT, target=EscrowStatus.CANCELLED)
    def expire(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.OPENED, target=EscrowStatus.DISPUTED)
    def open_dispute(self) -> None:
        pass

    @transition(
        field=status,
        source=EscrowStatus.DISPUTED,
        target=EscrowStatus.OPENED,
    )
    def resume(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.DISPUTED, target=EscrowStatus.COMPLETED)
    def resolve_complete(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.DISPUTED, target=EscrowStatus.REFUNDED)
    def resolve_refund(self) -> None:
        pass

    @transition(field=status, source=EscrowStatus.OPENED, target=EscrowStatus.REFUNDED)
    def refund(self) -> None:
        pass

    @transition(
        field=status, source=[EscrowStatus.OPENED, EscrowStatus.DISPUTED], target=EscrowStatus.CANCELLED
    )
    def cancel_by_agreement(self) -> None:
        """Mutual cancellation of a funded escrow: both parties agreed how to split what is held."""

    # -- read helpers ---------------------------------------------------------------------
    @property
    def is_milestone(self) -> bool:
        return self.settlement_type == SettlementType.MILESTONE

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def total_charge(self) -> int:
        return self.amount + self.fee

    def amount_display(self) -> str:
        return format_money(self.amount, self.currency)

    def amount_str(self) -> str:
        return format_minor(self.amount, self.currency)

    def party_role(self, user: Any) -> str | None:
        if user is None or not getattr(user, "pk", None):
            return None
        if user.pk == self.seller_id:
            return "seller"
        if self.buyer_id is not None and user.pk == self.buyer_id:
            return "buyer"
        return None

    # -- rule predicates: the services enforce them, the pages offer what they allow ------
    def edit_refusal(self, milestones: Iterable["Milestone"]) -> str | None:
        """Why the seller may not edit these terms now, or None when they may. An edit replaces
        the whole milestone set, so a stage already marked delivered (the payment-intents API
        records a delivery before funding) would lose its proof."""
        if self.status != EscrowStatus.AWAITING_PAYMENT:
            return "An escrow can only be edited while it is awaiting payment"
        if any(m.status != MilestoneStatus.PENDING for m in milestones):
            return "A milestone has already been marked delivered; the escrow can no longer be edited"
        return None

    def is_editable(self, milestones: Iterable["Milestone"]) -> bool:
        return self.edit_refusal(milestones) is None

    def change_order_refusal(self) -> str | None:
        """Why nobody may propose or accept a change order on this escrow now, or None: only a
        milestone escrow, once paid and while open (before payment the seller edits the terms)."""
        if not self.is_milestone:
            return "A standard escrow has no stages to change"
        if self.status == EscrowStatus.AWAITING_PAYMENT:
            return "Nobody has paid this escrow yet; the seller can edit its terms instead"
        if self.status != EscrowStatus.OPENED:
            return f"This escrow is {self.get_status_display().lower()}; its terms can no longer change"
        return None

    def release_order(self, milestones: Iterable["Milestone"]) -> list["Milestone"]:
        """The milestones in the order they are released: by index, leaving out any under dispute
        (a dispute freezes only its own milestone, never the later ones)."""
        return sorted((m for m in milestones if m.status != MilestoneStatus.DISPUTED), key=lambda m: m.index)

    def milestone_before(
        self, milestones: Iterable["Milestone"], milestone: "Milestone"
    ) -> "Milestone | None":
        """The milestone that must be out of the way before this one: the nearest earlier one in
        release order."""
        earlier = [m for m in self.release_order(milestones) if m.index < milestone.index]
        return earlier[-1] if earlier else None

    def next_unsettled(self, milestones: Iterable["Milestone"]) -> "Milestone | None":
        """The one milestone that can move now: the first in release order not yet settled."""
        return next((m for m in self.release_order(milestones) if not m.is_settled), None)

    def refundable_milestones(self, milestones: Iterable["Milestone"]) -> list["Milestone"]:
        """The milestones that could be given back now (the escrow being open): not settled and not
        under dispute."""
        return [m for m in milestones if not m.is_settled and m.status != MilestoneStatus.DISPUTED]

    def held_amount(self, milestones: Iterable["Milestone"]) -> int:
        """What the hold account holds for this escrow: nothing before it is paid or once it is
        closed; else what is left of its unsettled milestones (a standard escrow: its amount)."""
        if self.status not in (EscrowStatus.OPENED, EscrowStatus.DISPUTED):
            return 0
        if self.is_milestone:
            return sum(m.remaining_amount for m in milestones if not m.is_settled)
        return self.amount

    # -- the delivery window of a standard escrow: the seller may claim the money after it ---
    @property
    def delivery_window(self) -> timedelta | None:
        """How long the seller has to deliver, from payment: maxDelivery minutes, hours or days;
        None when the terms name no window."""
        unit = DELIVERY_TIMELINE_UNITS.get(self.delivery_timeline)
        if unit is None or not self.max_delivery:
            return None
        return self.max_delivery * unit

    @property
    def delivery_window_ends_at(self) -> datetime | None:
        window = self.delivery_window
        if window is None or self.funded_at is None:
            return None
        return self.funded_at + window

    def claim_refusal(self, now: datetime | None = None) -> str | None:
        """Why the seller may not take the money now, or None: only a standard escrow, paid and
        open (not under dispute), whose delivery window has passed."""
        if self.is_milestone:
            return "A milestone escrow is released milestone by milestone"
        ends = self.delivery_window_ends_at
        if self.status != EscrowStatus.OPENED or ends is None or ends > (now or timezone.now()):
            return "Escrow cannot be claimed yet"
        return None

    def arbitrated_by(self, user: Any) -> bool:
        """Whether `user` decides this escrow's disputes as the platform both parties are
        customers of (a platform arbitrates between its own customers; staff decide any)."""
        platform_id = getattr(user, "pk", None)
        if not platform_id or not getattr(user, "is_platform", False) or self.buyer is None:
            return False
        return (
            self.seller.created_by_platform_id == platform_id
            and self.buyer.created_by_platform_id == platform_id
        )

    @property
    def freeze_words(self) -> str:
        """Why the money held cannot move now, or "" when it can."""
        return CHARGEBACK_FREEZE_WORDS if self.frozen_by_chargeback else ""

    def payment_expired(self, now: datetime | None = None) -> bool:
        """Unpaid past its expiry: no longer payable, and the timer cancels it."""
        return self.status == EscrowStatus.AWAITING_PAYMENT and self.expires_at <= (now or timezone.now())

    def reserved_for_other(self, user: Any) -> bool:
        """Only the reserved buyer may pay: this escrow names another buyer than `user` (by
        account, or by email while no account is set). A party is never refused by this."""
        if self.party_role(user) is not None:
            return False
        if self.buyer_id is not None:
            return True
        return bool(self.buyer_email) and self.buyer_email != user.email.lower()

    @staticmethod
    def invited_to(user: Any, now: datetime | None = None) -> Q:
        """The escrows waiting for `user`'s payment: unpaid and still payable, naming their email
        as the buyer's while no buyer account is set, once the user has confirmed that address
        (entered the code mailed to it): whoever signs up with someone else's address sees none.
        Who may pay stays `reserved_for_other`'s to decide: it never refuses `user` any of these."""
        from allauth.account.models import EmailAddress

        confirmed = EmailAddress.objects.filter(user=user.pk, verified=True, email=OuterRef("buyer_email"))
        return (
            Q(
                buyer__isnull=True,
                buyer_email=user.email.lower(),
                status=EscrowStatus.AWAITING_PAYMENT,
                expires_at__gt=now or timezone.now(),
            )
            & ~Q(buyer_email="")
            & Q(Exists(confirmed))
        )

    def invitation_resend_refusal(self, sent: Iterable[datetime], now: datetime | None = None) -> str | None:
        """Why the seller may not email the buyer the payment link again now, or None when they
        may. `sent`: when it went out so far (creation and each resend). Only while unpaid and still
        payable, to a buyer named by email who has no account on it yet; at most once every
        INVITATION_RESEND_INTERVAL and INVITATION_RESENDS_MAX times."""
        now = now or timezone.now()
        if self.status != EscrowStatus.AWAITING_PAYMENT or self.payment_expired(now):
            return "The invitation can only be sent again while the escrow is awaiting payment"
        if not self.buyer_email or self.buyer_id is not None:
            return "This escrow names no buyer email to invite"
        times = sorted(sent)
        if len(times) > INVITATION_RESENDS_MAX:
            return f"The invitation was already sent again {INVITATION_RESENDS_MAX} times"
        if times and now < times[-1] + INVITATION_RESEND_INTERVAL:
            minutes = int(INVITATION_RESEND_INTERVAL.total_seconds() // 60)
            return f"The invitation was sent less than {minutes} minutes ago; try again later"
        return None


class MilestoneStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    COMPLETED = "COMPLETED", "Delivered"
    # Frozen by a dispute on this milestone alone; the escrow's other milestones stay live.
    DISPUTED = "DISPUTED", "Disputed"
    RELEASED = "RELEASED", "Released"
    REFUNDED = "REFUNDED", "Refunded"
    # Settled partly to the payee and partly back to the buyer (a dispute's split outcome or
    # a mutual cancellation); the ledger postings say how much went each way.
    SPLIT = "SPLIT", "Split"


SETTLED_MILESTONE_STATUSES = {MilestoneStatus.RELEASED, MilestoneStatus.REFUNDED, MilestoneStatus.SPLIT}

# The most a buyer may write when sending a delivered stage back for changes.
CHANGES_NOTE_MAX = 2000


class Milestone(models.Model):
    public_id = models.CharField(max_length=48, unique=True, default=new_milestone_id, editable=False)
    escrow = models.ForeignKey(Escrow, on_delete=models.PROTECT, related_name="milestones")
    index = models.PositiveIntegerField()
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    amount = models.BigIntegerField(help_text="Minor units")
    percentage = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    payee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="milestones_payee",
    )
    due_date = models.DateTimeField(null=True, blank=True)

    status = FSMField(default=MilestoneStatus.PENDING, choices=MilestoneStatus.choices, protected=True)

    completed_by = models.CharField(max_length=200, blank=True)
    completion_proof = models.TextField(blank=True)
    completion_proof_uri = models.URLField(max_length=2000, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # -- review clock: set when delivered; the buyer confirms or disputes by then,
    # or the timer releases. One extension; one reminder per deadline (reset by the extension).
    review_deadline = models.DateTimeField(null=True, blank=True)
    review_extended_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    # -- partial release: what the buyer released of this stage before releasing the rest.
    # The hold keeps amount - released_part for it; the ledger records each part.
    released_part = models.BigIntegerField(default=0, help_text="Minor units released so far")
    # -- changes requested: the buyer sent the delivered stage back with a note (the review
    # clock stops; the seller delivers again). How many times, the latest note and when.
    changes_requested_count = models.PositiveIntegerField(default=0)
    changes_requested_note = models.TextField(blank=True)
    changes_requested_at = models.DateTimeField(null=True, blank=True)
    # -- due date reminders: one to the seller before the due date, one to both once it passed
    # (reset when a change order moves the due date).
    due_reminder_sent_at = models.DateTimeField(null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)

    # Not columns: the review clock and whether the stage is late, as the escrow page shows them
    # (views.escrows.escrow_detail sets them for its template).
    review_ends: datetime | None
    review_over: bool
    review_extend_to: datetime | None
    overdue: bool

    class Meta:
        ordering = ["escrow_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["escrow", "index"], name="milestone_unique_index"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="milestone_amount_positive"),
            models.CheckConstraint(
                condition=Q(released_part__gte=0) & Q(released_part__lt=models.F("amount")),
                name="milestone_released_part_below_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "completed_at"], name="milestone_status_done"),
            models.Index(fields=["status", "review_deadline"], name="milestone_review_due"),
            # The due date timers' picks, every minute: stages not delivered yet, by due date.
            models.Index(
                fields=["due_date"],
                condition=Q(status=MilestoneStatus.PENDING, due_date__isnull=False),
                name="milestone_pending_due_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} #{self.index}"

    @transition(field=status, source=MilestoneStatus.PENDING, target=MilestoneStatus.COMPLETED)
    def complete(self) -> None:
        pass

    @transition(
        field=status,
        source=[MilestoneStatus.PENDING, MilestoneStatus.COMPLETED, MilestoneStatus.DISPUTED],
        target=MilestoneStatus.RELEASED,
    )
    def release(self) -> None:
        pass

    @transition(
        field=status,
        source=[MilestoneStatus.PENDING, MilestoneStatus.COMPLETED, MilestoneStatus.DISPUTED],
        target=MilestoneStatus.REFUNDED,
    )
    def refund(self) -> None:
        pass

    @transition(
        field=status,
        source=[MilestoneStatus.PENDING, MilestoneStatus.COMPLETED, MilestoneStatus.DISPUTED],
        target=MilestoneStatus.SPLIT,
    )
    def split(self) -> None:
        pass

    @transition(
        field=status,
        source=[MilestoneStatus.PENDING, MilestoneStatus.COMPLETED],
        target=MilestoneStatus.DISPUTED,
    )
    def dispute(self) -> None:
        pass

    # A dispute withdrawn (or resolved as "carry on") puts the milestone back where it was:
    # undelivered, or delivered and awaiting the buyer. Services pick by completed_at.
    @transition(field=status, source=MilestoneStatus.DISPUTED, target=MilestoneStatus.PENDING)
    def undispute_pending(self) -> None:
        pass

    @transition(field=status, source=MilestoneStatus.DISPUTED, target=MilestoneStatus.COMPLETED)
    def undispute_delivered(self) -> None:
        pass

    # The buyer sends a delivered stage back for changes: in progress again until redelivered.
    @transition(field=status, source=MilestoneStatus.COMPLETED, target=MilestoneStatus.PENDING)
    def send_back(self) -> None:
        pass

    @property
    def is_settled(self) -> bool:
        return self.status in SETTLED_MILESTONE_STATUSES

    def amount_str(self) -> str:
        return format_minor(self.amount, self.escrow.currency)

    # -- partial release: the buyer releases part of a stage, the rest stays held for it ------
    @property
    def remaining_amount(self) -> int:
        """What is left of this stage: its amount less the part the buyer released before it
        settled. The one place it is computed: what the hold keeps for an unsettled stage, and
        all that its release, refund, dispute or cancellation moves."""
        return self.amount - self.released_part

    @property
    def partly_released(self) -> bool:
        return self.released_part > 0

    def release_part_refusal(self, amount: int) -> str | None:
        """Why the buyer may not release `amount` (minor units) of this stage now, in words that
        follow the amount's name, or None. More than nothing and at most what is left; all of
        what is left releases the rest (the stage settles as a release does). Who may release,
        the escrow's and the stage's state and the release order are a release's own checks
        (services.milestones), the same for a part as for the whole."""
        if amount <= 0:
            return "must be greater than zero"
        if amount > self.remaining_amount:
            left = format_money(self.remaining_amount, self.escrow.currency)
            return f"can be at most {left}, what is left of this stage"
        return None

    @property
    def can_release_in_parts(self) -> bool:
        """Something is left to split: more than one minor unit of an unsettled stage not under
        dispute (the page offers "Release part" beside the release)."""
        return not self.is_settled and self.status != MilestoneStatus.DISPUTED and self.remaining_amount > 1

    @property
    def review_extended(self) -> bool:
        return self.review_extended_at is not None

    @property
    def review_ends_at(self) -> datetime | None:
        """When a delivered milestone releases by itself. Rows delivered before the clock existed
        (or written by hand) fall back to delivered at + the escrow's inspection period."""
        if self.review_deadline is not None:
            return self.review_deadline
        if self.completed_at is None:
            return None
        return self.completed_at + self.escrow.inspection_period

    def change_refusal(self) -> str | None:
        """Why a change order may not change or remove this stage, or None while it is still to
        come (a future stage): not delivered yet, not under dispute, nothing of it released or
        refunded."""
        stage = f"Stage {self.index + 1}"
        if self.is_settled:
            return f"{stage} is already {self.get_status_display().lower()}"
        if self.status == MilestoneStatus.DISPUTED:
            return f"{stage} is under dispute"
        if self.status == MilestoneStatus.COMPLETED:
            return f"{stage} was already delivered"
        if self.released_part:
            return f"Part of {stage.lower()} was already released"
        return None

    @property
    def is_future(self) -> bool:
        return self.change_refusal() is None

    def review_extension_refusal(self, now: datetime) -> tuple[str, str] | None:
        """Why the buyer may not extend this milestone's review now, as (code, message), or None:
        only a delivered milestone, only once, and only while its review clock still runs."""
        if self.status != MilestoneStatus.COMPLETED:
            return (
                "not_in_review",
                "Only a delivered milestone that is waiting for your review can be extended",
            )
        if self.review_extended_at is not None:
            return "already_extended", "The review period of this milestone was already extended once"
        deadline = self.review_ends_at
        if deadline is None or deadline <= now:
            return "review_ended", "The review period of this milestone has already ended"
        return None

    def changes_request_refusal(
        self, role: str | None, now: datetime, note: str | None = None
    ) -> tuple[str, str] | None:
        """Why this party may not send this stage back for changes now, as (code, message), or
        None: only the buyer, only a delivered stage whose review is still running on an open
        escrow (a disputed stage is not in review), with a note of 1 to CHANGES_NOTE_MAX
        characters. `note` None: whether they could at all (the page's button)."""
        if role != "buyer":
            return "not_buyer", "Only the buyer can request changes to a delivered milestone"
        if self.escrow.status != EscrowStatus.OPENED:
            return "not_open", "Changes can only be requested while the escrow is funded and open"
        if self.status != MilestoneStatus.COMPLETED:
            return (
                "not_in_review",
                "Only a delivered milestone that is waiting for your review can be sent back for changes",
            )
        deadline = self.review_ends_at
        if deadline is None or deadline <= now:
            return "review_ended", "The review period of this milestone has already ended"
        if note is not None:
            text = note.strip()
            if not text:
                return "note_required", "Say what needs to change"
            if len(text) > CHANGES_NOTE_MAX:
                return "note_too_long", f"The note is too long: at most {CHANGES_NOTE_MAX:,} characters"
        return None

    @property
    def in_review(self) -> bool:
        """Delivered and waiting for the buyer: the review clock is running."""
        return self.status == MilestoneStatus.COMPLETED and self.review_deadline is not None

    # -- due dates: one rule for the pages, the API and the timers ---------------------------
    def is_overdue(self, now: datetime | None = None) -> bool:
        """Late: its due date has passed and it is not delivered yet while the buyer's money is
        held (a pending stage of an open escrow). A delivered, disputed or settled stage, or an
        unpaid or closed escrow, is never overdue; nor is a stage the buyer sent back for changes
        after its due date (the seller delivered it; the parties can set a new due date by
        change order). `overdue_q` is the same rule as a query."""
        return (
            self.due_date is not None
            and self.due_date <= (now or timezone.now())
            and self.status == MilestoneStatus.PENDING
            and self.escrow.status == EscrowStatus.OPENED
            and (self.changes_requested_at is None or self.changes_requested_at <= self.due_date)
        )

    @staticmethod
    def overdue_q(now: datetime) -> Q:
        """`is_overdue` as a filter on milestones."""
        return Q(due_date__lte=now, status=MilestoneStatus.PENDING, escrow__status=EscrowStatus.OPENED) & (
            Q(changes_requested_at__isnull=True) | Q(changes_requested_at__lte=F("due_date"))
        )

    def due_reminder_due(self, now: datetime) -> bool:
        """The seller is reminded once, ESCROW_DUE_REMINDER_BEFORE before the due date, of a stage
        not delivered yet while the buyer's money is held; a stage already late is told as
        overdue instead (`overdue_notice_due`)."""
        return (
            self.due_date is not None
            and self.due_reminder_sent_at is None
            and self.status == MilestoneStatus.PENDING
            and self.escrow.status == EscrowStatus.OPENED
            and self.due_date - settings.ESCROW_DUE_REMINDER_BEFORE <= now < self.due_date
        )

    def overdue_notice_due(self, now: datetime) -> bool:
        """Both parties are told once that a stage is overdue."""
        return self.overdue_notified_at is None and self.is_overdue(now)

    def move_due_date(self, due_date: datetime | None) -> list[str]:
        """Give this stage another due date (or none): a new date earns a new reminder and a new
        overdue notice. The one place the reminders are reset; returns the fields to save (none
        when the date is the same)."""
        if due_date == self.due_date:
            return []
        self.due_date = due_date
        self.due_reminder_sent_at = None
        self.overdue_notified_at = None
        return ["due_date", "due_reminder_sent_at", "overdue_notified_at"]
