"""Notices of a dispute: opened, answered, withdrawn, resolved, its deadline near."""

from escrows.models import (
    Dispute,
    DisputeOutcome,
)

from ..models import Category
from .story import Notice, _Story, when

# -- disputes ------------------------------------------------------------------------------


def _outcome_words(s: _Story, outcome: str, seller_part: int, buyer_part: int) -> str:
    payee = s.name(s.payee) if s.payee is not None else s.seller_name
    if outcome == DisputeOutcome.RELEASE or not buyer_part:
        return f"{s.money(seller_part)} is released to {payee}"
    if outcome == DisputeOutcome.REFUND or not seller_part:
        return f"{s.money(buyer_part)} is refunded to {s.buyer_name}"
    return f"{s.money(seller_part)} goes to {payee} and {s.money(buyer_part)} back to {s.buyer_name}"


def _request_words(s: _Story, dispute: Dispute) -> str:
    """The opener's request as money: what accepting the claim applies, and what applies at the
    deadline if nobody answers."""
    return _outcome_words(
        s, dispute.default_outcome, dispute.default_seller_amount, dispute.default_buyer_amount
    )


def _default_words(s: _Story, dispute: Dispute) -> str:
    """What happens at the deadline of a dispute nobody answered yet (a contested one goes to an
    arbiter instead: escrows.models.Dispute.request_applies_at_deadline)."""
    return (
        f"If the {dispute.other_role} has not answered by {when(dispute.deadline)}, the "
        f"{dispute.opener_role}'s request applies: {_request_words(s, dispute)}. If they contest, "
        "an administrator decides."
    )


ARBITER_DECIDES = (
    "An administrator will decide; nothing moves by itself meanwhile. Add any evidence you have."
)


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
            f"{s.name(answerer)} accepted your claim on {_what(s)}.{said} It is settled as you asked: "
            f"{_request_words(s, dispute)}.",
            url=s.dispute_url(dispute),
            action="Open the dispute",
        )
    return s.notice(
        opener,
        Category.DISPUTES,
        f"{s.name(answerer)} contested your dispute on {_what(s)}",
        f"{s.name(answerer)} contested your claim on {_what(s)}.{said}\n\n{ARBITER_DECIDES}",
        url=s.dispute_url(dispute),
        action="Open the dispute",
        required=True,
    ) + s.notice(
        answerer,
        Category.DISPUTES,
        f"You contested the dispute on {_what(s)}",
        f"Your answer is recorded. {ARBITER_DECIDES}",
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
    if s.event.actor_id is None and dispute is not None:
        how = (
            f"The {dispute.other_role} did not answer by the deadline, so the {dispute.opener_role}'s "
            "request applied"
        )
    elif s.event.actor_id is None:
        how = "The deadline passed without an answer, so the opener's request applied"
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
            f"Dispute on {_what(s)}: the {dispute.opener_role}'s request applies on {when(dispute.deadline)}",
            f"The dispute on {_what(s)} is not answered yet. {_default_words(s, dispute)} Add your "
            "evidence, answer it or settle it with the other party before then.",
            url=s.dispute_url(dispute),
            action="Open the dispute",
            required=True,
        )
    return notices
