"""Who hears what: for each kind of event, the people told, what they read and the one page where
they act. Readers come only from the event's own escrow (its seller, its buyer or the address
invited to pay), the payee of the event's own stage, the customer a payout, connected Stripe
account or webhook endpoint belongs to, the customer whose account was blocked, unblocked or
given other permissions, and staff of a payout only they can clear or that Stripe
reversed: nobody else is ever told anything.

Card refunds and chargebacks through Stripe (rules/card_refunds.py) also tell staff, who alone
can act in Stripe's dashboard.

A kind missing from HANDLERS tells nobody (audit rows such as `settlement.scheduled`)."""

from escrows.models import Event

from .card_refunds import (
    _card_payment_given_back,
    _card_refund_failed,
    _card_refund_succeeded,
    _card_refund_unrecognised,
    _chargeback_closed,
    _chargeback_opened,
)
from .change_orders import (
    _change_order_accepted,
    _change_order_declined,
    _change_order_lapsed,
    _change_order_proposed,
    _change_order_withdrawn,
)
from .connect import _account_updated, _held_up, _payout_failed, _reversed
from .customers import _blocked, _permissions_changed, _unblocked
from .disputes import (
    _dispute_answered,
    _dispute_deadline_reminder,
    _dispute_opened,
    _dispute_resolved,
    _dispute_withdrawn,
)
from .escrows import (
    _cancelled,
    _card_declined,
    _changes_requested,
    _closed,
    _delivered,
    _delivery_proof_submitted,
    _due_reminder,
    _expiry_reminder,
    _funded,
    _invitation_after_edit,
    _invited,
    _overdue,
    _part_released,
    _refunded_stage,
    _released,
    _review_extended,
    _review_reminder,
    _split_stage,
)
from .payouts import _endpoint_disabled, _payout
from .requests import (
    _cancellation_decided,
    _cancellation_proposed,
    _refund_accepted,
    _refund_declined,
    _refund_requested,
    _refund_withdrawn,
)
from .story import Handler, Notice, Reader, _Story, when

__all__ = ["ANSWERED", "HANDLERS", "Notice", "Reader", "notices_for", "when"]

HANDLERS: dict[str, Handler] = {
    "escrow.created": _invited,
    "escrow.invitation_resent": _invited,
    "escrow.edited": _invitation_after_edit,
    "escrow.funded": _funded,
    "card_payment.declined": _card_declined,
    "escrow.expiry_reminder_sent": _expiry_reminder,
    "escrow.cancelled": _cancelled,
    "escrow.completed": lambda s: _closed(s, "complete"),
    "escrow.refunded": lambda s: _closed(s, "refunded"),
    "milestone.completed": _delivered,
    "milestone.review_reminder_sent": _review_reminder,
    "milestone.review_extended": _review_extended,
    "milestone.changes_requested": _changes_requested,
    "milestone.due_reminder_sent": _due_reminder,
    "milestone.overdue": _overdue,
    "milestone.released": _released,
    "milestone.partially_released": _part_released,
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
    "change_order.proposed": _change_order_proposed,
    "change_order.accepted": _change_order_accepted,
    "change_order.declined": _change_order_declined,
    "change_order.withdrawn": _change_order_withdrawn,
    "change_order.lapsed": _change_order_lapsed,
    "settlement.paid": lambda s: _payout(s, paid=True),
    "settlement.failed": lambda s: _payout(s, paid=False),
    "webhook_endpoint.disabled": _endpoint_disabled,
    "card_refund.succeeded": _card_refund_succeeded,
    "card_refund.failed": _card_refund_failed,
    "card_refund.unrecognised": _card_refund_unrecognised,
    "card_payment.given_back": _card_payment_given_back,
    "chargeback.opened": _chargeback_opened,
    "chargeback.closed": _chargeback_closed,
    "settlement.held_up": _held_up,
    "settlement.reversed": _reversed,
    "stripe_account.updated": _account_updated,
    "stripe_account.payout_failed": _payout_failed,
    "delivery_proof.submitted": _delivery_proof_submitted,
    "customer.blocked": _blocked,
    "customer.unblocked": _unblocked,
    "customer.permissions_changed": _permissions_changed,
}

# An event that ends a request, and what asked for the answer: the notices of the event of that
# kind on the same escrow naming the same request (the detail) no longer need action.
ANSWERED: dict[str, tuple[str, str]] = {
    "change_order.accepted": ("change_order.proposed", "changeOrder"),
    "change_order.declined": ("change_order.proposed", "changeOrder"),
    "change_order.withdrawn": ("change_order.proposed", "changeOrder"),
    "change_order.lapsed": ("change_order.proposed", "changeOrder"),
}


def notices_for(event: Event) -> list[Notice]:
    """The notices an event gives, at most one per person (the first wins)."""
    handler = HANDLERS.get(event.kind)
    if handler is None:
        return []
    if event.escrow_id is None and event.kind.split(".")[0] not in (
        "settlement",
        "webhook_endpoint",
        "stripe_account",
        "customer",
    ):
        return []
    seen: set[str] = set()
    notices = []
    for notice in handler(_Story(event)):
        if notice.reader.key not in seen:
            seen.add(notice.reader.key)
            notices.append(notice)
    return notices
