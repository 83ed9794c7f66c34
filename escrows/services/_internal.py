"""What every service shares: the escrow row lock and the milestones every change reads
(hot statements, escrows/hot.py), event rows (dispatched after the commit), the party check, settling
a milestone, closing an escrow after its last milestone, scheduling a payout, and where a
refund to the buyer goes."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import FOR_PERSON
from accounts.types import Actor, User
from core.errors import (
    Forbidden,
    InvalidState,
    NotFound,
)

from .. import broker, hot, ledger
from ..models import (
    CHARGEBACK_FREEZE_WORDS,
    AccountKind,
    ActorKind,
    CardPayment,
    CardPaymentStatus,
    DisputeOutcome,
    Escrow,
    EscrowStatus,
    Event,
    FundingSource,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
    Settlement,
    SettlementMethod,
    StripeRefund,
    StripeRefundPurpose,
    TransactionKind,
)


def _lock_escrow(escrow: Escrow, *, with_seller_account: bool = False) -> Escrow:
    """Re-read the escrow under a row lock; every change to an escrow or its milestones takes it.
    The hold account comes in the same query (only the escrow row is locked), and with
    `with_seller_account` the id of the seller's main account too (a release pays it)."""
    query = hot.LOCK_ESCROW_FOR_RELEASE if with_seller_account else hot.LOCK_ESCROW
    locked = query.first(escrow.pk)
    if locked is None:
        raise NotFound("Escrow not found")
    return locked


def _milestones(escrow: Escrow) -> list[Milestone]:
    """The escrow's milestones in order, each with .escrow set to this (locked) escrow; kept on
    the escrow as `loaded_milestones`, so that an answer built after the change reads no more."""
    milestones = hot.MILESTONES.all(escrow.pk)
    for m in milestones:
        Milestone.escrow.field.set_cached_value(m, escrow)
    escrow.loaded_milestones = milestones
    return milestones


def _actor_kind(by: Actor) -> str:
    if by is None:
        return ActorKind.SYSTEM
    return ActorKind.ADMIN if by.is_staff else ActorKind.USER


def _event(
    kind: str,
    *,
    by: Actor,
    escrow: Escrow | None = None,
    milestone: Milestone | None = None,
    settlement: Settlement | None = None,
    customer: User | None = None,
    from_status: str = "",
    to_status: str = "",
    details: dict | None = None,
    actor_kind: str | None = None,
) -> Event:
    event = Event(
        kind=kind,
        escrow=escrow,
        milestone=milestone,
        settlement=settlement,
        customer=customer,
        actor=by,
        actor_kind=actor_kind or _actor_kind(by),
        from_status=from_status,
        to_status=to_status,
        details=details or {},
    )
    hot.INSERT_EVENT.create(event)
    # One hand-over per transaction (savepoint scope), however many events it wrote: the
    # dispatcher takes every undispatched event at once, and publishing a task is a good part
    # of a confirm's time. A hook of another scope (a savepoint that may still roll back) counts
    # for nothing.
    connection = transaction.get_connection()
    scope = set(connection.savepoint_ids)
    if not any(
        func is _dispatch_events_after_commit and sids == scope for sids, func, _ in connection.run_on_commit
    ):
        transaction.on_commit(_dispatch_events_after_commit, robust=True)
    return event


def _dispatch_events_after_commit() -> None:
    from ..tasks import enqueue_event_dispatch

    enqueue_event_dispatch()


def _refuse_customer(refusal: str | None, code: str) -> None:
    if refusal is not None:
        raise Forbidden(refusal, code=code, for_person=FOR_PERSON[refusal])


def _refuse_if_blocked(by: Actor) -> None:
    """A customer their platform blocked does nothing (User.action_refusal); the system and
    staff are never blocked."""
    if by is not None:
        _refuse_customer(by.action_refusal(), "customer_blocked")


def _refuse_if_may_not_buy(by: User) -> None:
    """Paying an escrow as its buyer: not blocked, and buying allowed (User.buy_refusal)."""
    _refuse_customer(by.buy_refusal(), "customer_blocked" if by.is_blocked else "buying_not_allowed")


def _refuse_if_may_not_sell(seller: User) -> None:
    """Creating an escrow as its seller: not blocked, and selling allowed (User.sell_refusal)."""
    _refuse_customer(
        seller.sell_refusal(), "customer_blocked" if seller.is_blocked else "selling_not_allowed"
    )


def _require_party(escrow: Escrow, by: Actor) -> str:
    _refuse_if_blocked(by)
    role = escrow.party_role(by)
    if role is None:
        raise NotFound("Escrow not found")
    return role


def _refuse_if_disputed(milestone: Milestone) -> None:
    if milestone.status == MilestoneStatus.DISPUTED:
        raise InvalidState(
            f"Milestone {milestone.index} is disputed; it is frozen until the dispute is resolved",
            code="milestone_disputed",
        )


def _check_actionable(escrow: Escrow, *, allow_unfunded: bool) -> None:
    if escrow.status == EscrowStatus.OPENED:
        return
    if escrow.status == EscrowStatus.AWAITING_PAYMENT:
        if allow_unfunded:
            return
        raise InvalidState("This escrow is not funded yet", code="not_funded")
    if escrow.status == EscrowStatus.DISPUTED:
        raise InvalidState(
            "This escrow is disputed; milestones are frozen until it is resolved", code="disputed"
        )
    raise InvalidState(f"This escrow is {escrow.get_status_display().lower()}", code="escrow_closed")


def _get_milestone(escrow: Escrow, milestone: Milestone, milestones: list[Milestone]) -> Milestone:
    for m in milestones:
        if m.pk == milestone.pk:
            return m
    raise NotFound("Milestone not found")


def _close_escrow(
    escrow: Escrow,
    transition: Callable[[], object],
    *,
    by: Actor,
    kind: str | None = None,
    at: datetime | None = None,
    details: dict | None = None,
    actor_kind: str | None = None,
) -> Event:
    """Closing an escrow, whichever way: its transition, the time it closed and the event that
    says so (by default "escrow.<new status>")."""
    before = escrow.status
    transition()
    escrow.closed_at = at or timezone.now()
    hot.SAVE_CLOSED.save(escrow)
    return _event(
        kind or f"escrow.{escrow.status.lower()}",
        by=by,
        escrow=escrow,
        from_status=before,
        to_status=escrow.status,
        details=details,
        actor_kind=actor_kind,
    )


def _close_after_last(escrow: Escrow, milestones: list[Milestone], *, by: Actor) -> None:
    released_any = any(m.status in (MilestoneStatus.RELEASED, MilestoneStatus.SPLIT) for m in milestones)
    if escrow.status == EscrowStatus.DISPUTED:
        transition = escrow.resolve_complete if released_any else escrow.resolve_refund
    else:
        transition = escrow.complete if released_any else escrow.refund
    _close_escrow(escrow, transition, by=by)


def _settle_milestone(
    escrow: Escrow,
    milestone: Milestone,
    outcome: str,
    *,
    by: Actor,
    at: datetime | None,
    details: dict,
    actor_kind: str | None = None,
) -> None:
    """Settle one milestone (its money already posted): the transition for `outcome` (a
    DisputeOutcome: release, refund or split), the time on it (`at`; None records none), one
    write, and the milestone.<status> event."""
    before = milestone.status
    if outcome == DisputeOutcome.RELEASE:
        milestone.release()
    elif outcome == DisputeOutcome.REFUND:
        milestone.refund()
    else:
        milestone.split()
    if at is not None:
        if outcome != DisputeOutcome.REFUND:
            milestone.released_at = at
        if outcome != DisputeOutcome.RELEASE:
            milestone.refunded_at = at
    # A release writes what a release changes (a hot statement).
    if outcome == DisputeOutcome.RELEASE:
        hot.SAVE_RELEASED.save(milestone)
    else:
        milestone.save(update_fields=["status", "released_at", "refunded_at"])
    _event(
        f"milestone.{milestone.status.lower()}",
        by=by,
        escrow=escrow,
        milestone=milestone,
        from_status=before,
        to_status=milestone.status,
        details=details,
        actor_kind=actor_kind,
    )


def _schedule_payout(
    escrow: Escrow, *, payee: User, amount: int, milestone: Milestone | None, by: Actor
) -> None:
    """What a payee with a connected Stripe account receives goes out to it as a Stripe transfer
    while Connect is on (services.connect); else what the seller receives goes out by the
    escrow's settlement method, when it has one; another payee's money (and nothing) stays where
    it was credited."""
    if not amount:
        return
    from .connect import connect_transfer_destination  # connect shares this module's steps

    transfer_to = connect_transfer_destination(payee, escrow.currency)
    if transfer_to:
        _settlement_schedule(
            customer=payee,
            amount=amount,
            currency=escrow.currency,
            method=SettlementMethod.STRIPE_TRANSFER,
            destination=transfer_to,
            escrow=escrow,
            milestone=milestone,
            by=by,
        )
        return
    # A Stripe transfer goes only to the payee's own connected account, never a named destination.
    if (
        escrow.settlement_method
        and escrow.settlement_method != SettlementMethod.STRIPE_TRANSFER
        and payee.pk == escrow.seller_id
    ):
        _settlement_schedule(
            customer=payee,
            amount=amount,
            currency=escrow.currency,
            method=escrow.settlement_method,
            destination=escrow.settlement_destination,
            escrow=escrow,
            milestone=milestone,
            by=by,
        )


def _settlement_schedule(
    *,
    customer: User,
    amount: int,
    currency: str,
    method: str,
    destination: str,
    escrow: Escrow | None,
    milestone: Milestone | None,
    by: Actor,
) -> Settlement:
    """Reserve the amount (main balance -> payouts in flight) and enqueue the payout on commit."""
    main = ledger.customer_account(customer, currency)
    ledger.require_funds(main, amount)
    settlement = Settlement.objects.create(
        customer=customer,
        amount=amount,
        currency=currency,
        method=method,
        destination=destination,
        escrow=escrow,
        milestone=milestone,
        next_attempt_at=timezone.now(),
    )
    ledger.post(
        TransactionKind.PAYOUT_RESERVE,
        currency,
        [(main, -amount), (ledger.clearing_account(customer, currency), amount)],
        escrow=escrow,
        settlement=settlement,
    )
    _event(
        "settlement.scheduled",
        by=by,
        customer=customer,
        escrow=escrow,
        settlement=settlement,
        to_status=settlement.status,
        details={"amount": amount, "currency": currency, "destination": destination},
    )
    # robust: a broker outage after the commit must not turn a done release into an error page;
    # the process_due sweep enqueues what was missed.
    transaction.on_commit(lambda: _enqueue_settlement(settlement.pk), robust=True)
    return settlement


def _enqueue_settlement(settlement_pk: int) -> None:
    from ..tasks import settlement_process_task

    # Not sent: the settlement stays SCHEDULED and due, and the process_due sweep sends it.
    broker.publish(settlement_process_task, (settlement_pk,))


def _refund_target(escrow: Escrow) -> Any:
    """Where money given back to the buyer goes: back to the wallet it was paid from, or out to
    the card."""
    payment = escrow.payment
    if payment.source == FundingSource.WALLET:
        return ledger.customer_account(payment.payer, escrow.currency)
    return ledger.platform_account(AccountKind.EXTERNAL_REFUNDS, escrow.currency)


def _refuse_if_frozen(escrow: Escrow) -> None:
    """Money still held for an escrow moves neither to the seller nor back to the buyer while a
    chargeback of the card that paid it is open at the card network (docs/stripe.md)."""
    if escrow.frozen_by_chargeback:
        raise InvalidState(CHARGEBACK_FREEZE_WORDS, code="chargeback_open")


def _give_back(
    kind: str,
    escrow: Escrow,
    entries: list[tuple[Any, int]],
    *,
    to_buyer: int,
    milestone: Milestone | None = None,
    memo: str = "",
) -> LedgerTransaction:
    """The one posting of money out of the hold that gives `to_buyer` back to the buyer (with
    whatever else `entries` moves: the hold's side, a payee's share). The buyer's leg goes where
    they paid from (_refund_target); for an escrow paid by card through Stripe, the same
    transaction records a Stripe refund of that amount, sent to Stripe after the commit. The fee
    is not given back. Refused while a chargeback freezes the escrow."""
    _refuse_if_frozen(escrow)
    legs = list(entries)
    if to_buyer:
        legs.append((_refund_target(escrow), to_buyer))
    txn = ledger.post(kind, escrow.currency, legs, escrow=escrow, milestone=milestone, memo=memo)
    if to_buyer:
        _card_refund_record(escrow, amount=to_buyer, txn=txn, reason=TransactionKind(kind).label)
    return txn


def _card_refund_record(escrow: Escrow, *, amount: int, txn: LedgerTransaction, reason: str) -> None:
    """A pending Stripe refund of money the ledger gave back to a buyer who paid by card through
    Stripe; nothing for a wallet or the test card gateway."""
    payment = escrow.payment
    if payment.source != FundingSource.CARD:
        return
    card_payment = CardPayment.objects.filter(
        escrow=escrow, public_id=payment.public_id, status=CardPaymentStatus.SUCCEEDED
    ).first()
    if card_payment is None:
        return
    refund = StripeRefund.objects.create(
        card_payment=card_payment,
        escrow=escrow,
        amount=amount,
        currency=escrow.currency,
        purpose=StripeRefundPurpose.ESCROW,
        reason=reason,
        ledger_transaction=txn,
        next_attempt_at=timezone.now(),
    )
    _card_refund_scheduled(refund, by=None)


def _card_refund_scheduled(refund: StripeRefund, *, by: Actor) -> None:
    """The event of a card refund recorded, and its sending after the commit (robust: a broker
    outage leaves it due, and the process_due sweep sends it)."""
    _event(
        "card_refund.scheduled",
        by=by,
        escrow=refund.escrow,
        customer=refund.card_payment.payer,
        to_status=refund.status,
        details={"refund": refund.public_id, "amount": refund.amount, "reason": refund.reason},
    )
    transaction.on_commit(lambda: _enqueue_card_refund(refund.pk), robust=True)


def _enqueue_card_refund(refund_pk: int) -> None:
    from ..tasks import card_refund_process_task

    broker.publish(card_refund_process_task, (refund_pk,))
