"""The reader, the notice and the story of one event that every rule reads from."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from escrows.models import (
    CancellationProposal,
    Dispute,
    Escrow,
    Event,
    FundingSource,
    Milestone,
    RefundRequest,
)
from escrows.money import format_money

from ..models import email_key, user_key

TITLE_MAX = 60


@dataclass(frozen=True)
class Reader:
    """A person told about an event: an account, or an address without one (an invited buyer)."""

    user: Any
    email: str

    @property
    def key(self) -> str:
        return user_key(self.user.pk) if self.user is not None else email_key(self.email)


def staff_readers() -> list[Reader]:
    """Everyone who runs the platform, for what only they can act on (Stripe's dashboard, its
    balance, a refund that failed)."""
    staff = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("pk")
    return [Reader(user, user.email) for user in staff]


@dataclass(frozen=True)
class Notice:
    reader: Reader
    category: str
    subject: str
    body: str
    url: str
    action_label: str
    action_required: bool = False
    # The escrow the link opens (its page or its payment page); None for pages of the reader's
    # own (balance, webhook endpoint).
    escrow: Escrow | None = None


def when(moment: datetime | None) -> str:
    if moment is None:
        return "a date not set yet"
    return timezone.localtime(moment).strftime("%d %b %Y, %H:%M %Z")


def _parse(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def _quoted(title: str) -> str:
    title = " ".join(title.split())
    return f"“{title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + '…'}”"


class _Story:
    """An event read for telling people: its escrow, stage, parties and the links."""

    def __init__(self, event: Event):
        self.event = event
        self.details: dict[str, Any] = event.details or {}
        self.escrow: Escrow | None = event.escrow
        self.milestone: Milestone | None = event.milestone

    # -- people --------------------------------------------------------------------------
    @property
    def seller(self) -> Reader:
        assert self.escrow is not None
        return Reader(self.escrow.seller, self.escrow.seller.email)

    def buyer(self, email: str | None = None) -> Reader | None:
        """The buyer's account; before one is set, the address invited to pay (and its account,
        when that person has signed up)."""
        escrow = self.escrow
        assert escrow is not None
        buyer = escrow.buyer  # no query while no buyer is set
        if buyer is not None:
            return Reader(buyer, buyer.email)
        address = (email if email is not None else escrow.buyer_email or "").strip().lower()
        if not address:
            return None
        account = get_user_model().objects.filter(email__iexact=address, is_active=True).first()
        return Reader(account, address)

    @property
    def payee(self) -> Reader | None:
        """The stage's payee when it is someone other than the seller."""
        m, escrow = self.milestone, self.escrow
        if m is None or escrow is None or m.payee_id == escrow.seller_id:
            return None
        payee = m.payee  # no query while no payee is set
        return Reader(payee, payee.email) if payee is not None else None

    @property
    def customer(self) -> Reader | None:
        c = self.event.customer
        return Reader(c, c.email) if c is not None else None

    def is_actor(self, reader: Reader | None) -> bool:
        return reader is not None and reader.user is not None and reader.user.pk == self.event.actor_id

    def name(self, reader: Reader | None) -> str:
        if reader is None:
            return "the buyer"
        return reader.user.display_name if reader.user is not None else reader.email

    @property
    def seller_name(self) -> str:
        return self.name(self.seller)

    @property
    def buyer_name(self) -> str:
        return self.name(self.buyer())

    @property
    def actor_name(self) -> str:
        actor = self.event.actor
        if actor is None:
            return "The system"
        if self.escrow is not None and self.escrow.party_role(actor) is None and actor.is_staff:
            return "An administrator"
        return actor.display_name

    # -- words ---------------------------------------------------------------------------
    @property
    def title(self) -> str:
        return _quoted(self.escrow.title) if self.escrow is not None else ""

    def money(self, minor: Any) -> str:
        currency = self.escrow.currency if self.escrow is not None else "USD"
        return format_money(int(minor or 0), currency)

    @property
    def stage(self) -> str:
        """ "Stage 2" (its position), or the whole escrow for a standard one."""
        if self.milestone is not None:
            return f"Stage {self.milestone.index + 1}"
        index = self.details.get("index")
        return f"Stage {int(index) + 1}" if isinstance(index, int) else "the escrow"

    @property
    def stage_named(self) -> str:
        """ "Stage 2 (“Design”)" when the stage has a title of its own."""
        title = (self.milestone.title or "").strip() if self.milestone is not None else ""
        if title and title.lower() != self.stage.lower():
            return f"{self.stage} ({_quoted(title)})"
        return self.stage

    def refund_destination(self, *, to_buyer: bool) -> str:
        """Where money given back goes (services._internal._refund_target), in the reader's words."""
        payment = getattr(self.escrow, "payment", None) if self.escrow is not None else None
        if payment is not None and payment.source == FundingSource.WALLET:
            return "your balance" if to_buyer else "the buyer's balance"
        return "the card you paid with" if to_buyer else "the card the buyer paid with"

    # -- links ---------------------------------------------------------------------------
    def escrow_url(self, anchor: str = "") -> str:
        assert self.escrow is not None
        url = reverse("escrow_detail", args=[self.escrow.public_id])
        return f"{url}#{anchor}" if anchor else url

    @property
    def stage_url(self) -> str:
        if self.milestone is not None:
            return self.escrow_url(f"stage-{self.milestone.index + 1}")
        return self.escrow_url()

    def buyer_url(self) -> str:
        """Where the buyer acts: the escrow page once they are its buyer, else its payment page."""
        assert self.escrow is not None
        if self.escrow.buyer_id is not None:
            return self.escrow_url()
        return reverse("pay", args=[self.escrow.payment_token])

    def dispute_url(self, dispute: Dispute | None) -> str:
        if dispute is None:
            return self.stage_url
        assert self.escrow is not None
        return reverse("dispute_detail", args=[self.escrow.public_id, dispute.public_id])

    # -- rows the details name -------------------------------------------------------------
    def dispute(self) -> Dispute | None:
        public_id = self.details.get("dispute")
        if not isinstance(public_id, str):
            return None
        return Dispute.objects.select_related("milestone").filter(public_id=public_id).first()

    def proposal(self) -> CancellationProposal | None:
        public_id = self.details.get("proposal")
        if not isinstance(public_id, str):
            return None
        return CancellationProposal.objects.filter(public_id=public_id).first()

    def refund_request(self) -> RefundRequest | None:
        public_id = self.details.get("refundRequest")
        if not isinstance(public_id, str):
            return None
        return RefundRequest.objects.filter(public_id=public_id).first()

    def role_reader(self, role: str) -> Reader | None:
        return self.seller if role == "seller" else self.buyer()

    def other_role(self, role: str) -> str:
        return "buyer" if role == "seller" else "seller"

    # -- a notice --------------------------------------------------------------------------
    def notice(
        self,
        reader: Reader | None,
        category: str,
        subject: str,
        body: str,
        *,
        url: str,
        action: str,
        required: bool = False,
        on_escrow: bool = True,
    ) -> list[Notice]:
        if reader is None or not (reader.user is not None or reader.email):
            return []
        return [
            Notice(
                reader=reader,
                category=category,
                subject=subject[:200],
                body=body.strip(),
                url=url,
                action_label=action,
                action_required=required,
                escrow=self.escrow if on_escrow else None,
            )
        ]


Handler = Callable[[_Story], list[Notice]]
