"""Notices of refund requests and mutual cancellation proposals."""

from typing import Any

from ..models import Category
from .story import Notice, _Story

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
