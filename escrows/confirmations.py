"""What each irreversible action on an escrow says before it acts: how much money goes where, in
the currency ("Release 300.00 USD to Sam Seller?"). One function per action; the confirmation
page and the dialog on the escrow page both draw what it returns (core.confirmations). Which
actions a person is offered is escrows/permissions.py's answer; the amounts are the ones the
services move (the model's held_amount, the dispute service's dry run), never recomputed here."""

from collections.abc import Sequence
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from core.confirmations import Confirmation

from .agreements import change_words
from .models import (
    CancellationProposal,
    ChangeProposal,
    Dispute,
    DisputeOutcome,
    Escrow,
    FundingSource,
    Milestone,
    MilestoneStatus,
    RefundRequest,
)
from .money import format_minor, format_money
from .services import ChangeDraft, ChangeQuote


def _when(at: datetime) -> str:
    """As the pages show times ("4 Dec 2026, 21:30")."""
    return date_format(timezone.localtime(at), "j M Y, H:i")


def _stage(milestone: Milestone) -> str:
    return (
        f"stage {milestone.index + 1}, “{milestone.title}”"
        if milestone.title
        else f"stage {milestone.index + 1}"
    )


def _stage_item(escrow: Escrow, milestone: Milestone) -> str:
    """A stage as a list item, with what is left of it (what a refund of it moves)."""
    title = f" · {milestone.title}" if milestone.title else ""
    left = format_money(milestone.remaining_amount, escrow.currency)
    if milestone.partly_released:
        left += f" (left of {format_money(milestone.amount, escrow.currency)})"
    return f"Stage {milestone.index + 1}{title} · {left}"


def _back(escrow: Escrow) -> str:
    return reverse("escrow_detail", args=[escrow.public_id])


def refund_destination(escrow: Escrow, role: str | None) -> str:
    """Where a refund to the buyer lands, in words for this viewer."""
    payment = getattr(escrow, "payment", None)
    if payment is not None and payment.source == FundingSource.CARD:
        return "your card" if role == "buyer" else "the buyer's card"
    return "your balance" if role == "buyer" else "the buyer's balance"


def payee_name(escrow: Escrow, milestone: Milestone) -> str:
    """Who a release of this stage pays: its own payee, else the seller."""
    return (milestone.payee or escrow.seller).display_name


# -- release ----------------------------------------------------------------------------------


def release_confirmation(escrow: Escrow, milestone: Milestone) -> Confirmation:
    """The buyer releases one stage (what is left of it, after a part released before). A stage
    the seller has not marked delivered may still be released, and the confirmation says so
    plainly."""
    amount = format_money(milestone.remaining_amount, escrow.currency)
    payee = payee_name(escrow, milestone)
    delivered = milestone.status == MilestoneStatus.COMPLETED
    what = f"“{milestone.title}”" if milestone.title else "this stage"
    lines: tuple[str, ...] = (
        f"This confirms {what} is done. {amount} moves from escrow to {payee}'s balance and cannot "
        "be taken back.",
    )
    if milestone.partly_released:
        lines += (
            f"{format_money(milestone.released_part, escrow.currency)} of its "
            f"{format_money(milestone.amount, escrow.currency)} was released before: this releases the rest.",
        )
    warning = ""
    if not delivered:
        warning = (
            f"{escrow.seller.display_name} has not marked {what} delivered. Release it only if you "
            "have received the work anyway."
        )
    proof = []
    if milestone.completion_proof:
        proof.append(f"Delivery note: {milestone.completion_proof}")
    if milestone.completion_proof_uri:
        proof.append(f"Delivery link: {milestone.completion_proof_uri}")
    return Confirmation(
        kind="release",
        key=f"release-{milestone.public_id}",
        eyebrow=f"{escrow.title} · stage {milestone.index + 1}",
        title=f"Release {amount} to {payee}{'' if delivered else ' before delivery'}?",
        lines=lines,
        items=tuple(proof),
        warning=warning,
        button=f"Release {amount}",
        back_label="Not yet",
        action_url=reverse("milestone_release", args=[escrow.public_id, milestone.public_id]),
        back_url=_back(escrow),
    )


def release_part_confirmation(escrow: Escrow, milestone: Milestone, amount: int) -> Confirmation:
    """The buyer releases part of a stage (services.milestone_release_part): `amount` to the
    payee's balance now, the rest stays held for the stage. All of what is left is the release of
    the rest, and says so. The form carries what was left when it was shown: sent again after
    the part went, it releases nothing."""
    money = format_money(amount, escrow.currency)
    payee = payee_name(escrow, milestone)
    left = milestone.remaining_amount - amount
    what = f"“{milestone.title}”" if milestone.title else "this stage"
    if left:
        title = f"Release {money} of {what} to {payee} now?"
        lines: tuple[str, ...] = (
            f"{money} goes to {payee}'s balance now and cannot be taken back; "
            f"{format_money(left, escrow.currency)} stays held for this stage.",
        )
    else:
        title = f"Release the rest of {what}, {money}, to {payee}?"
        lines = (
            f"{money} is all that is left of {what}: it goes to {payee}'s balance now and cannot be "
            "taken back, and the stage is released.",
        )
    if milestone.partly_released:
        lines += (
            f"Released of its {format_money(milestone.amount, escrow.currency)} so far: "
            f"{format_money(milestone.released_part, escrow.currency)}.",
        )
    return Confirmation(
        kind="release",
        key=f"release-part-{milestone.public_id}",
        eyebrow=f"{escrow.title} · stage {milestone.index + 1}",
        title=title,
        lines=lines,
        fields=(
            ("amount", format_minor(amount, escrow.currency)),
            ("remaining", str(milestone.remaining_amount)),
        ),
        button=f"Release {money}",
        back_label="Not yet",
        edit_label="Change the amount",
        action_url=reverse("milestone_release_part", args=[escrow.public_id, milestone.public_id]),
        back_url=_back(escrow),
    )


def review_extend_confirmation(escrow: Escrow, milestone: Milestone, new_deadline: datetime) -> Confirmation:
    days = settings.ESCROW_REVIEW_EXTENSION.days
    what = f"“{milestone.title}”" if milestone.title else "this stage"
    now_ends = milestone.review_ends_at
    return Confirmation(
        kind="extend",
        key=f"extend-{milestone.public_id}",
        eyebrow=f"{escrow.title} · stage {milestone.index + 1}",
        title=f"Extend your review of {what} by {days} days?",
        lines=(
            (f"It now releases automatically on {_when(now_ends)}. " if now_ends else "")
            + f"After extending, {format_money(milestone.remaining_amount, escrow.currency)} releases on "
            f"{_when(new_deadline)} unless you confirm or dispute it. You can extend only once.",
        ),
        button=f"Extend by {days} days",
        back_label="Keep the deadline",
        action_url=reverse("milestone_extend_review", args=[escrow.public_id, milestone.public_id]),
        back_url=_back(escrow),
    )


# -- cancel and refund ------------------------------------------------------------------------


def escrow_cancel_confirmation(escrow: Escrow, role: str | None) -> Confirmation:
    """Cancelling an escrow nobody has paid: no money moves; the payment link stops working."""
    total = format_money(escrow.total_charge, escrow.currency)
    if role == "buyer":
        lines = (
            f"You have not paid, so no money moves. The seller's request for {total} closes and "
            "its payment link stops working. This cannot be undone.",
        )
    else:
        lines = (
            f"Nobody has paid yet, so no money moves. The payment link for {total} stops working "
            "and the buyer can no longer pay. This cannot be undone.",
        )
    return Confirmation(
        kind="cancel",
        key=f"cancel-{escrow.public_id}",
        eyebrow=escrow.title,
        title="Cancel this escrow?",
        lines=lines,
        button="Cancel escrow",
        back_label="Keep the escrow",
        action_url=reverse("escrow_cancel", args=[escrow.public_id]),
        back_url=_back(escrow),
    )


def escrow_refund_confirmation(escrow: Escrow, milestones: Sequence[Milestone]) -> Confirmation:
    """The seller gives back everything still held (services.escrow_refund): the escrow closes."""
    held = escrow.held_amount(milestones)
    amount = format_money(held, escrow.currency)
    to = refund_destination(escrow, "seller")
    # Whole stages released, and the parts released of stages not settled yet.
    released = sum(m.amount if m.status == MilestoneStatus.RELEASED else m.released_part for m in milestones)
    lines = [f"{amount} goes back to {to} now and cannot be taken back. This closes the escrow."]
    if released:
        paid = format_money(released, escrow.currency)
        lines.append(f"What was already released ({paid}) stays yours.")
    return Confirmation(
        kind="refund",
        key=f"refund-{escrow.public_id}",
        eyebrow=escrow.title,
        title=f"Refund {amount} to {to}?",
        lines=tuple(lines),
        items=tuple(_stage_item(escrow, m) for m in milestones if not m.is_settled),
        button=f"Refund {amount}",
        action_url=reverse("escrow_refund", args=[escrow.public_id]),
        back_url=_back(escrow),
    )


def milestones_refund_confirmation(
    escrow: Escrow, milestones: Sequence[Milestone], chosen: Sequence[Milestone], reason: str
) -> Confirmation:
    """The seller refunds the stages they ticked (the second step of that form): what is left of
    each."""
    amount = format_money(sum(m.remaining_amount for m in chosen), escrow.currency)
    to = refund_destination(escrow, "seller")
    closes = all(m.is_settled or m in chosen for m in milestones)
    return Confirmation(
        kind="refund",
        key=f"refund-milestones-{escrow.public_id}",
        eyebrow=escrow.title,
        title=f"Refund {amount} to {to}?",
        lines=(
            "The money leaves escrow now and cannot be taken back."
            + (" Nothing else is left, so this closes the escrow." if closes else ""),
        ),
        items=tuple(_stage_item(escrow, m) for m in chosen),
        fields=(
            *(("milestones", m.public_id) for m in chosen),
            ("reason", reason),
            ("confirm", "yes"),
        ),
        button=f"Refund {amount}",
        action_url=reverse("milestones_refund", args=[escrow.public_id]),
        back_url=_back(escrow),
    )


def refund_request_accept_confirmation(
    escrow: Escrow, refund_request: RefundRequest, milestones: Sequence[Milestone]
) -> Confirmation:
    amount = format_money(refund_request.amount, escrow.currency)
    to = refund_destination(escrow, "seller")
    by_id = {m.public_id: m for m in milestones}
    return Confirmation(
        kind="accept-refund",
        key=f"accept-refund-{refund_request.public_id}",
        eyebrow=escrow.title,
        title=f"Refund {amount} to {to}?",
        lines=(
            f"The buyer asks: {refund_request.reason}",
            "Accepting refunds this at once; it cannot be taken back.",
        ),
        items=tuple(_stage_item(escrow, by_id[i]) for i in refund_request.milestone_ids if i in by_id),
        button=f"Accept & refund {amount}",
        action_url=reverse("refund_request_accept", args=[escrow.public_id, refund_request.public_id]),
        back_url=_back(escrow),
    )


def cancellation_accept_confirmation(
    escrow: Escrow, proposal: CancellationProposal, role: str | None
) -> Confirmation:
    to_buyer = format_money(proposal.buyer_amount, escrow.currency)
    to_seller = format_money(proposal.seller_amount, escrow.currency)
    lines = []
    if proposal.note:
        lines.append(f"Their note: {proposal.note}")
    lines.append("The money moves at once and the escrow closes as cancelled. This cannot be undone.")
    return Confirmation(
        kind="cancellation",
        key=f"cancellation-{proposal.public_id}",
        eyebrow=escrow.title,
        title="Cancel this escrow by agreement?",
        items=(
            f"Back to the buyer ({refund_destination(escrow, role)}): {to_buyer}",
            f"To the seller's balance: {to_seller}",
            f"Held in escrow: {format_money(proposal.total, escrow.currency)}",
        ),
        lines=tuple(lines),
        button="Accept & cancel escrow",
        action_url=reverse("cancellation_accept", args=[escrow.public_id, proposal.public_id]),
        back_url=_back(escrow),
    )


# -- disputes ---------------------------------------------------------------------------------


def dispute_request_words(escrow: Escrow, outcome: str, seller_part: int, buyer_part: int) -> str:
    """A dispute outcome as money: "300.00 USD back to the buyer"."""
    if outcome == DisputeOutcome.RELEASE or not buyer_part:
        return f"{format_money(seller_part, escrow.currency)} released to the seller"
    if outcome == DisputeOutcome.REFUND or not seller_part:
        return f"{format_money(buyer_part, escrow.currency)} back to the buyer"
    return (
        f"{format_money(seller_part, escrow.currency)} to the seller and "
        f"{format_money(buyer_part, escrow.currency)} back to the buyer"
    )


def dispute_request_of(dispute: Dispute, escrow: Escrow) -> str:
    """What the opener asked for, as money: what accepting the claim applies, and what applies
    at the deadline if nobody answers."""
    return dispute_request_words(
        escrow, dispute.default_outcome, dispute.default_seller_amount, dispute.default_buyer_amount
    )


def dispute_what_happens(dispute: Dispute, escrow: Escrow) -> str:
    """What happens next to an active dispute, when, in words for both parties."""
    request = dispute_request_of(dispute, escrow)
    if dispute.is_contested:
        return (
            f"The {dispute.other_role} contested it, so an arbiter decides: nothing moves by itself. "
            "Add any evidence you have."
        )
    return (
        f"The {dispute.other_role} can accept the claim or contest it until {_when(dispute.deadline)}. "
        f"If they contest, an arbiter decides. If they have not answered by then, the "
        f"{dispute.opener_role}'s request applies: {request}."
    )


def dispute_open_confirmation(
    escrow: Escrow,
    milestone: Milestone | None,
    *,
    role: str,
    outcome: str,
    amount: int,
    seller_part: int,
    buyer_part: int,
    deadline: datetime,
    fields: tuple[tuple[str, str], ...],
) -> Confirmation:
    """Opening a dispute: what is frozen, what the opener asks for, and what happens when. The
    amounts are the dispute service's own (services.dispute_request_amounts)."""
    frozen = format_money(amount, escrow.currency)
    other = "seller" if role == "buyer" else "buyer"
    what = f"{_stage(milestone)}" if milestone is not None else "this escrow"
    request = dispute_request_words(escrow, outcome, seller_part, buyer_part)
    return Confirmation(
        kind="dispute",
        key=f"dispute-{escrow.public_id}",
        eyebrow=escrow.title,
        title=f"Open a dispute about {what} and freeze {frozen}?",
        lines=(
            f"{frozen} stays in escrow until the dispute is settled"
            + ("; the other stages carry on." if milestone is not None else "."),
            f"You ask for: {request}.",
            f"The {other} can accept your claim or contest it until {_when(deadline)}. If they "
            "contest, an arbiter (our staff) reviews both sides and decides. If they have not "
            "answered by then, your request applies.",
            "You can add files as evidence on the dispute page right after opening it.",
        ),
        fields=(*fields, ("confirmed", "1")),
        button=f"Open dispute and freeze {frozen}",
        back_label="Cancel",
        edit_label="Change what I wrote",
        action_url=reverse("escrow_dispute", args=[escrow.public_id]),
        back_url=_back(escrow),
    )


def dispute_withdraw_confirmation(escrow: Escrow, dispute: Dispute) -> Confirmation:
    amount = format_money(dispute.amount, escrow.currency)
    return Confirmation(
        kind="withdraw-dispute",
        key=f"withdraw-{dispute.public_id}",
        eyebrow=f"{escrow.title} · dispute",
        title="Withdraw this dispute?",
        lines=(
            f"{amount} is no longer frozen: the escrow carries on as if the dispute had not been "
            "opened. You cannot reopen this dispute; a new one starts from the beginning.",
        ),
        button="Withdraw dispute",
        back_label="Keep the dispute",
        action_url=reverse("dispute_withdraw", args=[escrow.public_id, dispute.public_id]),
        back_url=reverse("dispute_detail", args=[escrow.public_id, dispute.public_id]),
    )


def dispute_accept_confirmation(escrow: Escrow, dispute: Dispute, text: str) -> Confirmation:
    """The other party accepts the claim: settled at once with what the opener asked for."""
    return Confirmation(
        kind="dispute",
        key=f"accept-{dispute.public_id}",
        eyebrow=f"{escrow.title} · dispute",
        title=f"Accept the claim: {dispute_request_of(dispute, escrow)}?",
        lines=(
            f"That is what the {dispute.opener_role} asked for when they opened the dispute about "
            f"{format_money(dispute.amount, escrow.currency)}.",
            "This settles the dispute at once and cannot be undone.",
        ),
        fields=(("answer", "accept"), ("text", text), ("confirmed", "1")),
        button="Accept and settle",
        back_label="Back",
        action_url=reverse("dispute_answer", args=[escrow.public_id, dispute.public_id]),
        back_url=reverse("dispute_detail", args=[escrow.public_id, dispute.public_id]),
    )


def dispute_resolve_confirmation(
    escrow: Escrow,
    dispute: Dispute,
    *,
    seller_part: int,
    buyer_part: int,
    fields: tuple[tuple[str, str], ...],
) -> Confirmation:
    return Confirmation(
        kind="dispute",
        key=f"resolve-{dispute.public_id}",
        eyebrow=f"{escrow.title} · dispute",
        title=f"{format_money(seller_part, escrow.currency)} to the seller, "
        f"{format_money(buyer_part, escrow.currency)} to the buyer?",
        lines=("This resolves the dispute and moves the money at once.",),
        fields=(*fields, ("confirmed", "1")),
        button="Resolve",
        back_label="Back",
        action_url=reverse("dispute_resolve", args=[escrow.public_id, dispute.public_id]),
        back_url=reverse("dispute_detail", args=[escrow.public_id, dispute.public_id]),
    )


# -- change orders ------------------------------------------------------------------------------


def _change_items(escrow: Escrow, rows: Sequence[dict], quote: ChangeQuote) -> tuple[str, ...]:
    words = (change_words(row, escrow.currency) for row in rows)
    changes = tuple(w[:1].upper() + w[1:] for w in words)
    total = (
        f"New total: {format_money(quote.amount_after, escrow.currency)} "
        f"(was {format_money(quote.amount_before, escrow.currency)})"
    )
    return (*changes, total)


def _money_item(escrow: Escrow, quote: ChangeQuote, *, role: str | None, pay_words: str) -> str:
    currency = escrow.currency
    if quote.difference > 0:
        parts = f"{format_money(quote.difference, currency)} + {format_money(quote.fee, currency)} fee"
        who = "You pay" if role == "buyer" else "The buyer pays"
        return f"{who} {format_money(quote.buyer_pays, currency)} ({parts}){pay_words}"
    if quote.difference < 0:
        back = format_money(quote.buyer_gets_back, currency)
        return f"Back to the buyer ({refund_destination(escrow, role)}): {back}"
    return "No money moves"


def change_order_propose_confirmation(
    escrow: Escrow, draft: ChangeDraft, *, fields: tuple[tuple[str, str], ...]
) -> Confirmation:
    """The review of a proposal before it is sent: each change, the new total, what the buyer
    would pay more (with the fee) or get back. Nothing moves until the other party accepts."""
    other = "seller" if draft.role == "buyer" else "buyer"
    pay = ""
    if draft.pay_source:
        pay = ", from your balance" if draft.pay_source == FundingSource.WALLET else ", by card"
    return Confirmation(
        kind="propose-change",
        key="propose-change",
        eyebrow=escrow.title,
        title="Send this change to the " + other + "?",
        items=(
            *_change_items(escrow, draft.rows, draft.quote),
            _money_item(escrow, draft.quote, role=draft.role, pay_words=pay + " when it is accepted"),
        ),
        lines=(
            f"Nothing changes and no money moves until the {other} accepts. "
            f"Unanswered, the proposal lapses after {settings.ESCROW_CHANGE_PROPOSAL_LAPSE.days} days.",
        ),
        button="Send proposal",
        action_url=reverse("change_order_new", args=[escrow.public_id]),
        back_url=_back(escrow),
        back_label="Cancel",
        fields=(*fields, ("confirmed", "1")),
        edit_label="Change it",
    )


def change_order_accept_confirmation(
    escrow: Escrow,
    proposal: ChangeProposal,
    quote: ChangeQuote,
    role: str | None,
    *,
    pay_source: str = "",
    card_token: str = "",
    balance: int | None = None,
) -> Confirmation:
    """Accepting a change order moves money: exactly how much, which way and from where."""
    currency = escrow.currency
    pay_words = ""
    if quote.difference > 0:
        if pay_source == FundingSource.CARD:
            pay_words = ", charged to your card" if role == "buyer" else ", charged to the card they named"
        elif role == "buyer":
            held = f" (it holds {format_money(balance, currency)})" if balance is not None else ""
            pay_words = f", from your balance{held}"
        else:
            pay_words = ", from their balance"
    if quote.difference > 0:
        cost = format_money(quote.buyer_pays, currency)
        title = (
            f"Accept the change and pay {cost}?"
            if role == "buyer"
            else f"Accept the change? The buyer pays {cost}"
        )
        button = f"Accept & pay {cost}" if role == "buyer" else "Accept the change"
    elif quote.difference < 0:
        back = format_money(quote.buyer_gets_back, currency)
        title = (
            f"Accept the change and get {back} back?"
            if role == "buyer"
            else f"Accept the change and give {back} back to the buyer?"
        )
        button = f"Accept & refund {back}"
    else:
        title, button = "Accept the change?", "Accept the change"
    lines = [f"Their note: {proposal.note}"] if proposal.note else []
    lines.append(
        "The money moves at once and the new terms bind you both (a new version of the terms). "
        "This cannot be undone."
    )
    fields: list[tuple[str, str]] = [("confirmed", "1")]
    if pay_source:
        fields.append(("pay_source", pay_source))
    if card_token:
        fields.append(("card_token", card_token))
    return Confirmation(
        kind="accept-change",
        key=f"accept-{proposal.public_id}",
        eyebrow=escrow.title,
        title=title,
        items=(
            *_change_items(escrow, proposal.changes, quote),
            _money_item(escrow, quote, role=role, pay_words=pay_words),
        ),
        lines=tuple(lines),
        button=button,
        action_url=reverse("change_order_accept", args=[escrow.public_id, proposal.public_id]),
        back_url=_back(escrow) + "#change-order",
        fields=tuple(fields),
    )


def change_order_decline_confirmation(escrow: Escrow, proposal: ChangeProposal, reason: str) -> Confirmation:
    proposer = proposal.proposer_role
    return Confirmation(
        kind="decline-change",
        key=f"decline-{proposal.public_id}",
        eyebrow=escrow.title,
        title="Decline the proposed change?",
        lines=(
            f"Nothing changes and no money moves; the {proposer} is told your reason: “{reason}”. "
            "They can propose another change.",
        ),
        button="Decline the change",
        action_url=reverse("change_order_decline", args=[escrow.public_id, proposal.public_id]),
        back_url=_back(escrow) + "#change-order",
        fields=(("reason", reason), ("confirmed", "1")),
    )


def change_order_withdraw_confirmation(escrow: Escrow, proposal: ChangeProposal) -> Confirmation:
    other = proposal.responder_role
    return Confirmation(
        kind="withdraw-change",
        key=f"withdraw-{proposal.public_id}",
        eyebrow=escrow.title,
        title="Withdraw your proposed change?",
        lines=(f"Nothing changes and no money moves; the {other} is told there is nothing to answer.",),
        button="Withdraw the proposal",
        action_url=reverse("change_order_withdraw", args=[escrow.public_id, proposal.public_id]),
        back_url=_back(escrow) + "#change-order",
    )
