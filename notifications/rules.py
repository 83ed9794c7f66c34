"""Who hears what: for each kind of event, the people told, what they read and the one page where
they act. Readers come only from the event's own escrow (its seller, its buyer or the address
invited to pay), the payee of the event's own stage, and the customer a payout or webhook
endpoint belongs to: nobody else is ever told anything.

A kind missing from HANDLERS tells nobody (audit rows such as `settlement.scheduled`)."""

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
    DisputeOutcome,
    Escrow,
    Event,
    FundingSource,
    Milestone,
    RefundRequest,
)
from escrows.money import format_money

from .models import Category, email_key, user_key

TITLE_MAX = 60


@dataclass(frozen=True)
class Reader:
    """A person told about an event: an account, or an address without one (an invited buyer)."""

    user: Any
    email: str

    @property
    def key(self) -> str:
        return user_key(self.user.pk) if self.user is not None else email_key(self.email)


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


# -- invitations, payment, expiry ----------------------------------------------------------


def _invited(s: _Story) -> list[Notice]:
    escrow = s.escrow
    assert escrow is not None
    address = s.details.get("buyerEmail") if s.event.kind != "escrow.created" else None
    reader = s.buyer(address if isinstance(address, str) else None)
    if reader is None or s.is_actor(reader):
        return []
    total = format_money(escrow.amount + escrow.fee, escrow.currency)
    return s.notice(
        reader,
        Category.ACCOUNT,
        f"{s.seller_name} asks you to pay {s.money(escrow.amount)} for {s.title}",
        f"{s.seller_name} created the escrow {s.title} and named you as the buyer.\n\n"
        f"You pay {s.money(escrow.amount)} plus a fee of {s.money(escrow.fee)} ({total} in all). "
        f"The money is held in escrow and reaches {s.seller_name} only as you release each stage.\n\n"
        f"Pay by {when(escrow.expires_at)}; after that the escrow expires unpaid.",
        url=reverse("pay", args=[escrow.payment_token]),
        action="Review and pay",
        required=True,
    )


def _invitation_after_edit(s: _Story) -> list[Notice]:
    # Only an edit that named a new buyer address invites that address.
    if not s.details.get("buyerEmail") or s.details.get("buyerEmail") == s.details.get("buyerEmailBefore"):
        return []
    if "buyerEmailBefore" not in s.details:
        return []
    return _invited(s)


def _funded(s: _Story) -> list[Notice]:
    escrow = s.escrow
    assert escrow is not None
    first = "the first stage" if escrow.is_milestone else "the work"
    return s.notice(
        s.seller,
        Category.MONEY,
        f"{s.title} is paid: {s.money(escrow.amount)} is held, start work",
        f"{s.buyer_name} paid {s.money(escrow.amount)} into escrow for {s.title}. The money is held "
        f"until they release it{' stage by stage' if escrow.is_milestone else ''}.\n\n"
        f"Start on {first} and mark it delivered when it is done.",
        url=s.escrow_url("stage-1") if escrow.is_milestone else s.escrow_url(),
        action="Open the escrow",
        required=True,
    )


def _expiry_reminder(s: _Story) -> list[Notice]:
    escrow = s.escrow
    assert escrow is not None
    deadline = when(_parse(s.details.get("expiresAt")) or escrow.expires_at)
    buyer = s.buyer()
    return s.notice(
        buyer,
        Category.REMINDERS,
        f"Pay for {s.title} by {deadline}, or it expires",
        f"{s.seller_name} is waiting for your payment of {s.money(escrow.amount)} for {s.title}.\n\n"
        f"Unless it is paid by {deadline}, the escrow expires and is cancelled.",
        url=s.buyer_url(),
        action="Review and pay",
        required=True,
    ) + s.notice(
        s.seller,
        Category.REMINDERS,
        f"{s.title} expires unpaid on {deadline}",
        f"{s.buyer_name if buyer else 'Nobody'} has not paid {s.money(escrow.amount)} for {s.title} yet.\n\n"
        f"Unless it is paid by {deadline}, the escrow expires and is cancelled. You can send the "
        "buyer the payment link again from the escrow page.",
        url=s.escrow_url(),
        action="Open the escrow",
    )


def _cancelled(s: _Story) -> list[Notice]:
    escrow = s.escrow
    assert escrow is not None
    reason = s.details.get("reason")
    if reason == "mutual cancellation":
        return []  # told by cancellation.accepted
    buyer = s.buyer()
    if reason == "expired":
        return s.notice(
            s.seller,
            Category.ACCOUNT,
            f"{s.title} expired unpaid",
            f"Nobody paid for {s.title} by {when(escrow.expires_at)}, so it was cancelled. Nothing was "
            "charged. Create a new escrow if the deal still stands.",
            url=s.escrow_url(),
            action="Open the escrow",
        ) + s.notice(
            buyer,
            Category.ACCOUNT,
            f"{s.title} expired unpaid",
            f"{s.title} from {s.seller_name} was not paid by {when(escrow.expires_at)} and has been "
            "cancelled. Nothing was charged.",
            url=s.buyer_url(),
            action="See the escrow",
        )
    notices: list[Notice] = []
    for reader in (s.seller, buyer):
        if reader is None or s.is_actor(reader):
            continue
        notices += s.notice(
            reader,
            Category.ACCOUNT,
            f"{s.title} was cancelled",
            f"{s.actor_name} cancelled {s.title} before it was paid. Nothing was charged.",
            url=s.escrow_url() if reader == s.seller else s.buyer_url(),
            action="See the escrow",
        )
    return notices


# -- delivery, review, release -------------------------------------------------------------


def _delivered(s: _Story) -> list[Notice]:
    escrow, m = s.escrow, s.milestone
    assert escrow is not None
    amount = s.money(m.amount if m is not None else escrow.amount)
    payee = s.name(s.payee) if s.payee is not None else s.seller_name
    proof = (s.details.get("proof") or "").strip()
    said = f"\n\nTheir note: {proof}" if proof else ""
    if escrow.auto_release_on_proof:
        return s.notice(
            s.buyer(),
            Category.REQUESTS,
            f"{s.stage} delivered on {s.title}",
            f"{s.seller_name} marked {s.stage_named} of {s.title} delivered.{said}\n\n"
            f"Under this escrow's terms a delivered stage is released to {payee} ({amount}) on delivery.",
            url=s.stage_url if escrow.buyer_id else s.buyer_url(),
            action="See the stage",
        )
    deadline = _parse(s.details.get("reviewDeadline")) or (m.review_ends_at if m is not None else None)
    if escrow.funded_at is None:
        review = (
            f"Once you have paid, you have {escrow.inspection_period.days} days to review it; unless you "
            f"release it or open a dispute by then, {amount} is released to {payee} automatically."
        )
        subject = f"{s.stage} delivered on {s.title}: review it once paid"
    else:
        review = (
            f"Review it by {when(deadline)}: release it if it is right, or open a dispute if it is not. "
            f"Unless you do one or the other, {amount} is released to {payee} automatically on "
            f"{when(deadline)}."
        )
        subject = f"{s.stage} delivered on {s.title}: review by {when(deadline)}"
    return s.notice(
        s.buyer(),
        Category.REQUESTS,
        subject,
        f"{s.seller_name} marked {s.stage_named} of {s.title} delivered ({amount}).{said}\n\n{review}",
        url=s.stage_url if escrow.buyer_id else s.buyer_url(),
        action="Review the stage",
        required=True,
    )


def _review_reminder(s: _Story) -> list[Notice]:
    m = s.milestone
    assert m is not None
    deadline = when(_parse(s.details.get("reviewDeadline")) or m.review_ends_at)
    named = _quoted(m.title) if (m.title or "").strip() else f"“{s.stage}”"
    payee = s.name(s.payee) if s.payee is not None else s.seller_name
    return s.notice(
        s.customer or s.buyer(),
        Category.REMINDERS,
        f"Review {named} by {deadline}: it releases automatically",
        f"{s.seller_name} marked {named} of {s.title} delivered.\n\n"
        f"Unless you confirm or dispute it, {s.money(m.amount)} is released to {payee} automatically "
        f"on {deadline}.",
        url=s.stage_url,
        action="Review the stage",
        required=True,
    )


def _review_extended(s: _Story) -> list[Notice]:
    deadline = when(_parse(s.details.get("reviewDeadline")))
    return s.notice(
        s.seller,
        Category.REQUESTS,
        f"{s.buyer_name} took more time to review {s.stage} of {s.title}",
        f"{s.buyer_name} extended the review of {s.stage_named} of {s.title} once. They now have until "
        f"{deadline} to release it or open a dispute; after that it is released automatically.",
        url=s.stage_url,
        action="See the stage",
    )


# Reasons a stage settles that another notice already tells the parties about.
_TOLD_ELSEWHERE = ("dispute resolved", "mutual cancellation", "refund request")


def _to_payee(s: _Story) -> list[Notice]:
    """The payee of a stage (someone other than the seller) hears of the money that reaches them,
    however the stage settled; they are told nothing else about the escrow."""
    payee = s.payee
    if payee is None:
        return []
    d = s.details
    amount = d.get("sellerShare", d.get("sellerAmount", d.get("amount")))
    if not amount:
        return []
    return s.notice(
        payee,
        Category.MONEY,
        f"{s.money(amount)} released to you for {s.stage} of {s.title}",
        f"{s.money(amount)} for {s.stage_named} of {s.title} is now in your balance.",
        url=reverse("balance"),
        action="Open your balance",
        on_escrow=False,
    )


def _released(s: _Story) -> list[Notice]:
    escrow, m = s.escrow, s.milestone
    assert escrow is not None
    notices = _to_payee(s)
    reason = str(s.details.get("reason") or "")
    if reason.startswith(_TOLD_ELSEWHERE):
        return notices
    amount = s.money(s.details.get("amount", m.amount if m is not None else escrow.amount))
    to = f"to {s.name(s.payee)}" if s.payee is not None else "to your balance"
    if reason == "inspection period lapsed":
        how = (
            "The review period ended without a release or a dispute, so "
            f"{s.stage_named} was released automatically"
        )
    elif reason == "auto-release on proof":
        how = f"{s.stage_named} was released on delivery, as this escrow's terms say"
    else:
        how = f"{s.actor_name} released {s.stage_named}"
    notices += s.notice(
        s.seller,
        Category.MONEY,
        f"{amount} released for {s.stage} of {s.title}",
        f"{how}: {amount} went {to}.",
        url=s.stage_url,
        action="Open the escrow",
    )
    buyer = s.buyer()
    if not s.is_actor(buyer):
        payee = s.name(s.payee) if s.payee is not None else s.seller_name
        notices += s.notice(
            buyer,
            Category.MONEY,
            f"{s.stage} of {s.title} released: {amount} to {payee}",
            f"{how}: {amount} went to {payee}.",
            url=s.stage_url,
            action="Open the escrow",
        )
    return notices


def _refunded_stage(s: _Story) -> list[Notice]:
    m = s.milestone
    reason = str(s.details.get("reason") or "")
    if reason.startswith(_TOLD_ELSEWHERE) or m is None:
        return []
    amount = s.money(s.details.get("amount", m.amount))
    return s.notice(
        s.buyer(),
        Category.MONEY,
        f"{amount} refunded for {s.stage} of {s.title}",
        f"{s.actor_name} gave back {s.stage_named} of {s.title}: {amount} goes back to "
        f"{s.refund_destination(to_buyer=True)}.",
        url=s.stage_url,
        action="Open the escrow",
    )


def _split_stage(s: _Story) -> list[Notice]:
    # A split comes only from a dispute or a mutual cancellation, each told on its own; only the
    # payee of the stage hears here of their part.
    return _to_payee(s)


def _closed(s: _Story, verb: str) -> list[Notice]:
    escrow = s.escrow
    assert escrow is not None
    notices: list[Notice] = []
    for reader, to_buyer in ((s.seller, False), (s.buyer(), True)):
        if verb == "complete":
            subject = f"{s.title} is complete"
            body = f"Every stage of {s.title} is settled and the escrow is closed."
        elif s.is_actor(reader):
            continue
        else:
            subject = f"{s.title} was refunded"
            body = (
                f"{s.title} is closed: what it held went back to {s.refund_destination(to_buyer=to_buyer)}."
            )
        notices += s.notice(
            reader, Category.MONEY, subject, body, url=s.escrow_url(), action="Open the escrow"
        )
    return notices


# -- disputes ------------------------------------------------------------------------------


def _outcome_words(s: _Story, outcome: str, seller_part: int, buyer_part: int) -> str:
    payee = s.name(s.payee) if s.payee is not None else s.seller_name
    if outcome == DisputeOutcome.RELEASE or not buyer_part:
        return f"{s.money(seller_part)} is released to {payee}"
    if outcome == DisputeOutcome.REFUND or not seller_part:
        return f"{s.money(buyer_part)} is refunded to {s.buyer_name}"
    return f"{s.money(seller_part)} goes to {payee} and {s.money(buyer_part)} back to {s.buyer_name}"


def _default_words(s: _Story, dispute: Dispute) -> str:
    outcome = _outcome_words(
        s, dispute.default_outcome, dispute.default_seller_amount, dispute.default_buyer_amount
    )
    return f"If it is not resolved by {when(dispute.deadline)}, the default outcome applies: {outcome}."


def _what(s: _Story) -> str:
    return f"{s.stage} of {s.title}" if s.milestone is not None else s.title


def _dispute_opened(s: _Story) -> list[Notice]:
    dispute = s.dispute()
    if dispute is None:
        return []
    opener = s.role_reader(dispute.opener_role)
    other = s.role_reader(s.other_role(dispute.opener_role))
    opener_name = s.name(opener)
    frozen = f"{s.money(dispute.amount)} is frozen until the dispute is settled."
    return s.notice(
        other,
        Category.DISPUTES,
        f"{opener_name} opened a dispute on {_what(s)}: answer by {when(dispute.deadline)}",
        f"{opener_name} disputes {_what(s)}. Their reason: {dispute.reason}\n\n{frozen} Accept the claim, "
        f"or contest it and add your evidence. {_default_words(s, dispute)}",
        url=s.dispute_url(dispute),
        action="Answer the dispute",
        required=True,
    ) + s.notice(
        opener,
        Category.DISPUTES,
        f"Your dispute on {_what(s)} is open",
        f"You disputed {_what(s)}. {frozen} {s.name(other)} can accept your claim or contest it; add "
        f"your evidence meanwhile. {_default_words(s, dispute)}",
        url=s.dispute_url(dispute),
        action="Open the dispute",
    )


def _dispute_answered(s: _Story) -> list[Notice]:
    dispute = s.dispute()
    if dispute is None:
        return []
    opener = s.role_reader(dispute.opener_role)
    answerer = s.role_reader(s.other_role(dispute.opener_role))
    accepted = s.details.get("answer") == "accept"
    said = f" Their answer: {s.details['reason']}" if s.details.get("reason") else ""
    if accepted:
        return s.notice(
            opener,
            Category.DISPUTES,
            f"{s.name(answerer)} accepted your dispute on {_what(s)}",
            f"{s.name(answerer)} accepted your claim on {_what(s)}.{said} It is settled in your favour.",
            url=s.dispute_url(dispute),
            action="Open the dispute",
        )
    return s.notice(
        opener,
        Category.DISPUTES,
        f"{s.name(answerer)} contested your dispute on {_what(s)}",
        f"{s.name(answerer)} contested your claim on {_what(s)}.{said}\n\nAn administrator will decide; "
        f"add any evidence you have. {_default_words(s, dispute)}",
        url=s.dispute_url(dispute),
        action="Open the dispute",
        required=True,
    ) + s.notice(
        answerer,
        Category.DISPUTES,
        f"You contested the dispute on {_what(s)}",
        f"Your answer is recorded. An administrator will decide; add any evidence you have. "
        f"{_default_words(s, dispute)}",
        url=s.dispute_url(dispute),
        action="Open the dispute",
    )


def _dispute_withdrawn(s: _Story) -> list[Notice]:
    if s.details.get("reason") == "mutual cancellation":
        return []
    dispute = s.dispute()
    if dispute is None:
        return []
    other = s.role_reader(s.other_role(dispute.opener_role))
    return s.notice(
        other,
        Category.DISPUTES,
        f"{s.actor_name} withdrew the dispute on {_what(s)}",
        f"{s.actor_name} withdrew their dispute on {_what(s)}. The money is no longer frozen and the "
        "escrow carries on as before.",
        url=s.stage_url,
        action="Open the escrow",
    )


def _dispute_resolved(s: _Story) -> list[Notice]:
    dispute = s.dispute()
    d = s.details
    outcome = _outcome_words(
        s, str(d.get("outcome")), int(d.get("sellerAmount") or 0), int(d.get("buyerAmount") or 0)
    )
    if s.event.actor_id is None:
        how = "The deadline passed without a decision, so the default outcome applied"
    elif s.event.actor is not None and s.escrow is not None and s.escrow.party_role(s.event.actor) is None:
        how = "An administrator decided"
    else:
        how = f"{s.actor_name} accepted the claim"
    note = (d.get("note") or "").strip()
    said = f"\n\nNote: {note}" if note and s.event.actor_id is not None else ""
    notices: list[Notice] = []
    for reader in (s.seller, s.buyer()):
        notices += s.notice(
            reader,
            Category.DISPUTES,
            f"Dispute on {_what(s)} resolved: {outcome}",
            f"{how}: {outcome}.{said}",
            url=s.dispute_url(dispute),
            action="See the outcome",
        )
    return notices


def _dispute_deadline_reminder(s: _Story) -> list[Notice]:
    dispute = s.dispute()
    if dispute is None:
        return []
    notices: list[Notice] = []
    for reader in (s.seller, s.buyer()):
        notices += s.notice(
            reader,
            Category.DISPUTES,
            f"Dispute on {_what(s)}: the default outcome applies on {when(dispute.deadline)}",
            f"The dispute on {_what(s)} is not resolved yet. {_default_words(s, dispute)} Add your "
            "evidence or settle it with the other party before then.",
            url=s.dispute_url(dispute),
            action="Open the dispute",
            required=True,
        )
    return notices


# -- refund requests and mutual cancellation ------------------------------------------------


def _refund_requested(s: _Story) -> list[Notice]:
    amount = s.money(s.details.get("amount"))
    reason = (s.details.get("reason") or "").strip()
    said = f" Their reason: {reason}" if reason else ""
    return s.notice(
        s.seller,
        Category.REQUESTS,
        f"{s.buyer_name} asks for a refund of {amount} on {s.title}",
        f"{s.buyer_name} asks you to give back {amount} of {s.title}.{said}\n\nAccept it to refund them, "
        "or decline it and tell them why.",
        url=s.escrow_url("refunds"),
        action="Answer the request",
        required=True,
    )


def _refund_accepted(s: _Story) -> list[Notice]:
    amount = s.money(s.details.get("amount"))
    where = s.refund_destination(to_buyer=True)
    return s.notice(
        s.buyer(),
        Category.MONEY,
        f"Refund of {amount} accepted on {s.title}",
        f"{s.seller_name} accepted your refund request: {amount} goes back to {where}.",
        url=s.escrow_url(),
        action="Open the escrow",
    )


def _refund_declined(s: _Story) -> list[Notice]:
    request = s.refund_request()
    reason = (s.details.get("reason") or "").strip()
    amount = f" of {s.money(request.amount)}" if request is not None else ""
    return s.notice(
        s.buyer(),
        Category.REQUESTS,
        f"{s.seller_name} declined your refund request on {s.title}",
        f"{s.seller_name} declined your refund request{amount}. Their reason: {reason}\n\n"
        "You can still release the stages, open a dispute or propose to cancel the escrow.",
        url=s.escrow_url(),
        action="Open the escrow",
    )


def _refund_withdrawn(s: _Story) -> list[Notice]:
    return s.notice(
        s.seller,
        Category.REQUESTS,
        f"{s.buyer_name} withdrew their refund request on {s.title}",
        f"{s.buyer_name} withdrew their refund request on {s.title}; there is nothing to answer.",
        url=s.escrow_url(),
        action="Open the escrow",
    )


def _split_words(s: _Story, buyer_amount: Any, seller_amount: Any) -> str:
    return f"{s.money(buyer_amount)} back to {s.buyer_name} and {s.money(seller_amount)} to {s.seller_name}"


def _cancellation_proposed(s: _Story) -> list[Notice]:
    role = str(s.details.get("role") or "")
    proposer, other = s.role_reader(role), s.role_reader(s.other_role(role))
    reason = (s.details.get("reason") or "").strip()
    said = f" Their reason: {reason}" if reason else ""
    split = _split_words(s, s.details.get("buyerAmount"), s.details.get("sellerAmount"))
    return s.notice(
        other,
        Category.REQUESTS,
        f"{s.name(proposer)} proposes to cancel {s.title}",
        f"{s.name(proposer)} proposes to cancel {s.title} and split what is held: {split}.{said}\n\n"
        "Accept to cancel the escrow and move the money as proposed, or decline to carry on.",
        url=s.escrow_url("cancellation"),
        action="Answer the proposal",
        required=True,
    )


def _cancellation_decided(s: _Story, verb: str) -> list[Notice]:
    proposal = s.proposal()
    if proposal is None:
        return []
    proposer = s.role_reader(proposal.proposer_role)
    other = s.role_reader(s.other_role(proposal.proposer_role))
    split = _split_words(s, proposal.buyer_amount, proposal.seller_amount)
    if verb == "withdrawn":
        return s.notice(
            other,
            Category.REQUESTS,
            f"{s.name(proposer)} withdrew their proposal to cancel {s.title}",
            f"{s.name(proposer)} withdrew their proposal to cancel {s.title}; the escrow carries on.",
            url=s.escrow_url(),
            action="Open the escrow",
        )
    if verb == "accepted":
        return s.notice(
            proposer,
            Category.MONEY,
            f"{s.name(other)} accepted cancelling {s.title}",
            f"{s.name(other)} accepted your proposal: {s.title} is cancelled and what it held is split: "
            f"{split}.",
            url=s.escrow_url(),
            action="Open the escrow",
        )
    reason = (s.details.get("reason") or "").strip()
    said = f" Their reason: {reason}" if reason else ""
    return s.notice(
        proposer,
        Category.REQUESTS,
        f"{s.name(other)} declined cancelling {s.title}",
        f"{s.name(other)} declined your proposal to cancel {s.title}.{said} The escrow carries on.",
        url=s.escrow_url(),
        action="Open the escrow",
    )


# -- payouts and webhook endpoints ---------------------------------------------------------


def _payout(s: _Story, paid: bool) -> list[Notice]:
    settlement = s.event.settlement
    if settlement is None:
        return []
    amount = format_money(settlement.amount, settlement.currency)
    source = f" from {s.title}" if s.escrow is not None else ""
    if paid:
        ref = s.details.get("reference")
        return s.notice(
            s.customer,
            Category.MONEY,
            f"Payout of {amount} sent",
            f"{amount}{source} was paid out to {settlement.destination}"
            f"{f' (reference {ref})' if ref else ''}.",
            url=reverse("balance"),
            action="Open your balance",
            on_escrow=False,
        )
    return s.notice(
        s.customer,
        Category.MONEY,
        f"Payout of {amount} failed: the money is back in your balance",
        f"We could not pay {amount}{source} out to {settlement.destination}. The money is back in your "
        "balance; check the destination and withdraw it again.",
        url=reverse("balance"),
        action="Open your balance",
        required=True,
        on_escrow=False,
    )


def _endpoint_disabled(s: _Story) -> list[Notice]:
    d = s.details
    failures = d.get("failures")
    endpoint = d.get("endpoint")
    url = reverse("webhook_detail", args=[endpoint]) if isinstance(endpoint, str) else reverse("webhooks")
    return s.notice(
        s.customer,
        Category.WEBHOOKS,
        "Webhook endpoint switched off after repeated failures",
        f"We stopped sending events to {d.get('url', 'your endpoint')}: its last {failures} deliveries "
        "failed. Fix the endpoint, then switch it on again on its page.",
        url=url,
        action="Open the endpoint",
        required=True,
        on_escrow=False,
    )


HANDLERS: dict[str, Handler] = {
    "escrow.created": _invited,
    "escrow.invitation_resent": _invited,
    "escrow.edited": _invitation_after_edit,
    "escrow.funded": _funded,
    "escrow.expiry_reminder_sent": _expiry_reminder,
    "escrow.cancelled": _cancelled,
    "escrow.completed": lambda s: _closed(s, "complete"),
    "escrow.refunded": lambda s: _closed(s, "refunded"),
    "milestone.completed": _delivered,
    "milestone.review_reminder_sent": _review_reminder,
    "milestone.review_extended": _review_extended,
    "milestone.released": _released,
    "milestone.refunded": _refunded_stage,
    "milestone.split": _split_stage,
    "dispute.opened": _dispute_opened,
    "dispute.answered": _dispute_answered,
    "dispute.withdrawn": _dispute_withdrawn,
    "dispute.resolved": _dispute_resolved,
    "dispute.deadline_reminder_sent": _dispute_deadline_reminder,
    "refund.requested": _refund_requested,
    "refund.accepted": _refund_accepted,
    "refund.declined": _refund_declined,
    "refund.withdrawn": _refund_withdrawn,
    "cancellation.proposed": _cancellation_proposed,
    "cancellation.accepted": lambda s: _cancellation_decided(s, "accepted"),
    "cancellation.declined": lambda s: _cancellation_decided(s, "declined"),
    "cancellation.withdrawn": lambda s: _cancellation_decided(s, "withdrawn"),
    "settlement.paid": lambda s: _payout(s, paid=True),
    "settlement.failed": lambda s: _payout(s, paid=False),
    "webhook_endpoint.disabled": _endpoint_disabled,
}


def notices_for(event: Event) -> list[Notice]:
    """The notices an event gives, at most one per person (the first wins)."""
    handler = HANDLERS.get(event.kind)
    if handler is None:
        return []
    if event.escrow_id is None and event.kind.split(".")[0] not in ("settlement", "webhook_endpoint"):
        return []
    seen: set[str] = set()
    notices = []
    for notice in handler(_Story(event)):
        if notice.reader.key not in seen:
            seen.add(notice.reader.key)
            notices.append(notice)
    return notices
