"""Change orders on a funded escrow: either party proposes to change the stages still to come
(add a stage; change a future stage's amount, title, description or due date; remove a future
stage), the other party accepts or declines, the proposer may withdraw, and an unanswered
proposal lapses. Accepting moves the money in the same transaction: the buyer pays an increase
(with the fee on it) from their balance or by card, a decrease goes back to where the buyer paid
from; the stages are renumbered, the hold equals what is left of the unsettled stages, and the
new terms are recorded as a version both parties agreed to.

The rows a proposal stores (`ChangeProposal.changes`), one per change:
    {"kind": "add", "index": <its place once added>, "title", "description", "amount", "dueDate"}
    {"kind": "edit", "milestone": <id>, "index", "title", "before": {<field>: <old>},
     "after": {<field>: <new>}}
    {"kind": "remove", "milestone": <id>, "index", "title", "amount"}
(amounts in minor units, due dates as ISO 8601; an edit names only the fields it changes, among
amount, title, description and dueDate: a dueDate of None removes it)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.types import Actor, User
from core.errors import (
    Conflict,
    Forbidden,
    InsufficientFunds,
    InvalidRequest,
    InvalidState,
    NotFound,
    TestModeOnly,
)

from .. import ledger
from ..models import (
    AccountKind,
    ChangeProposal,
    ChangeProposalStatus,
    Dispute,
    Escrow,
    EscrowStatus,
    Event,
    FundingSource,
    Milestone,
    RefundRequest,
    RefundRequestStatus,
    TermsReason,
    TransactionKind,
)
from ..money import check_escrow_amount, check_minor, fee_for, format_money
from ..providers import card_gateway
from ._internal import _event, _give_back, _lock_escrow, _milestones, _require_party
from .agreements import _record_terms
from .due_dates import check_due_date
from .refunds import REASON_MAX, _supersede_stale

# At most this many changes in one proposal; titles as long as a stage's.
CHANGES_MAX = 20
TITLE_MAX = 200
DESCRIPTION_MAX = 5000


@dataclass(frozen=True)
class StageAdd:
    """A new stage, added after the last one."""

    amount: int  # minor units
    title: str = ""
    description: str = ""
    due_date: datetime | None = None


@dataclass(frozen=True)
class StageEdit:
    """A future stage changed: each field given (not None) is its new value; `clear_due_date`
    removes its due date."""

    milestone: Any  # the Milestone or its public id
    amount: int | None = None
    title: str | None = None
    description: str | None = None
    due_date: datetime | None = None
    clear_due_date: bool = False


@dataclass(frozen=True)
class StageRemove:
    """A future stage removed (the stages after it move up)."""

    milestone: Any  # the Milestone or its public id


StageChange = StageAdd | StageEdit | StageRemove


@dataclass(frozen=True)
class ChangeQuote:
    """What a change order does to the money: the escrow's total before and after, and what the
    buyer pays (the increase and the fee on it) or gets back."""

    currency: str
    amount_before: int
    amount_after: int
    fee: int  # the fee on the increase (0 for a decrease)

    @property
    def difference(self) -> int:
        return self.amount_after - self.amount_before

    @property
    def buyer_pays(self) -> int:
        return max(self.difference, 0) + self.fee

    @property
    def buyer_gets_back(self) -> int:
        return max(-self.difference, 0)


def change_order_fee(escrow: Escrow, amount_after: int) -> int:
    """The fee on an increase. While the schedule the escrow was funded under is still the
    current one: the fee of the new total, less what the buyer paid in fees already (never below
    nothing). Once the schedule has changed: the current schedule's fee on the increase alone, so
    the money already held never pays a new rate. A decrease refunds no fee. The one rule for the
    review page, the confirmation, the notices and the acceptance."""
    if amount_after <= escrow.amount:
        return 0
    if escrow.fee_schedule_version != settings.ESCROW_FEE_SCHEDULE["version"]:
        fee, _ = fee_for(amount_after - escrow.amount, escrow.currency)
        return fee
    fee, _ = fee_for(amount_after, escrow.currency)
    return max(fee - escrow.fee, 0)


def change_order_quote(escrow: Escrow, proposal: ChangeProposal) -> ChangeQuote:
    """What accepting `proposal` would move now (the fee as of today's schedule)."""
    return ChangeQuote(
        currency=escrow.currency,
        amount_before=proposal.amount_before,
        amount_after=proposal.amount_after,
        fee=change_order_fee(escrow, proposal.amount_after),
    )


# -- the changes: read, checked against the locked stages --------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _refused(message: str, i: int, *, code: str = "invalid_change", for_person: str = "") -> InvalidRequest:
    return InvalidRequest(
        f"changes[{i}]: {message}", code=code, field="changes", for_person=for_person or f"{message}."
    )


def _amount(value: Any, currency: str, i: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _refused(
            "amount must be greater than zero", i, for_person=f"{what}: enter an amount greater than zero."
        )
    try:
        return check_minor(value, currency)
    except InvalidRequest as exc:
        raise _refused(exc.message, i, for_person=f"{what}: {exc.for_person}") from None


def _text(value: Any, i: int, name: str, limit: int, what: str) -> str:
    if not isinstance(value, str):
        raise _refused(f"{name} must be text", i, for_person=f"{what}: enter the {name} as text.")
    text = value.strip()
    if len(text) > limit:
        raise _refused(
            f"{name} must be at most {limit} characters",
            i,
            for_person=f"{what}: the {name} can be at most {limit:,} characters.",
        )
    return text


def _due(value: Any, i: int, what: str, now: datetime) -> datetime:
    """A due date set by a change: a date ahead (the due dates' own rule, check_due_date)."""
    if not isinstance(value, datetime):
        raise _refused(
            "dueDate must be a date and time", i, for_person=f"{what}: enter the due date as a date."
        )
    try:
        check_due_date(value, now=now)
    except InvalidRequest:
        raise _refused(
            "dueDate must be in the future", i, for_person=f"{what}: the due date must be in the future."
        ) from None
    return value


def _find_stage(milestones: list[Milestone], ref: Any, i: int) -> Milestone:
    public_id = ref.public_id if isinstance(ref, Milestone) else str(ref or "")
    if not public_id:
        raise _refused(
            "milestoneId is required", i, code="milestone_required", for_person="Choose the stage to change."
        )
    for m in milestones:
        if m.public_id == public_id:
            return m
    raise _refused(
        f"no milestone {public_id[:60]} in this escrow",
        i,
        code="milestone_unknown",
        for_person="That stage is not part of this escrow (any more).",
    )


def _rows_from_input(
    escrow: Escrow, milestones: list[Milestone], changes: Sequence[StageChange], now: datetime
) -> list[dict[str, Any]]:
    """The proposal's rows from what a party asked for, each value checked."""
    if not changes:
        raise InvalidRequest(
            "Propose at least one change",
            code="no_changes",
            field="changes",
            for_person="Propose at least one change.",
        )
    if len(changes) > CHANGES_MAX:
        raise InvalidRequest(
            f"At most {CHANGES_MAX} changes in one proposal", code="too_many_changes", field="changes"
        )
    currency = escrow.currency
    rows: list[dict[str, Any]] = []
    for i, change in enumerate(changes):
        if isinstance(change, StageAdd):
            what = "New stage"
            rows.append(
                {
                    "kind": "add",
                    "title": _text(change.title, i, "title", TITLE_MAX, what),
                    "description": _text(change.description, i, "description", DESCRIPTION_MAX, what),
                    "amount": _amount(change.amount, currency, i, what),
                    "dueDate": _iso(_due(change.due_date, i, what, now))
                    if change.due_date is not None
                    else None,
                }
            )
        elif isinstance(change, StageEdit):
            m = _find_stage(milestones, change.milestone, i)
            what = f"Stage {m.index + 1}"
            after: dict[str, Any] = {}
            if change.amount is not None and change.amount != m.amount:
                after["amount"] = _amount(change.amount, currency, i, what)
            if (
                change.title is not None
                and (title := _text(change.title, i, "title", TITLE_MAX, what)) != m.title
            ):
                after["title"] = title
            if change.description is not None:
                description = _text(change.description, i, "description", DESCRIPTION_MAX, what)
                if description != m.description:
                    after["description"] = description
            if change.clear_due_date:
                if m.due_date is not None:
                    after["dueDate"] = None
            elif change.due_date is not None and change.due_date != m.due_date:
                after["dueDate"] = _iso(_due(change.due_date, i, what, now))
            if not after:
                raise _refused(
                    "the change leaves the stage as it is",
                    i,
                    code="nothing_changes",
                    for_person=f"{what}: nothing would change; change its amount, title, description "
                    "or due date.",
                )
            before = {
                "amount": m.amount,
                "title": m.title,
                "description": m.description,
                "dueDate": _iso(m.due_date),
            }
            rows.append(
                {
                    "kind": "edit",
                    "milestone": m.public_id,
                    "index": m.index,
                    "title": m.title,
                    "before": {k: before[k] for k in after},
                    "after": after,
                }
            )
        elif isinstance(change, StageRemove):
            m = _find_stage(milestones, change.milestone, i)
            rows.append(
                {
                    "kind": "remove",
                    "milestone": m.public_id,
                    "index": m.index,
                    "title": m.title,
                    "amount": m.amount,
                }
            )
        else:
            raise _refused("unknown change", i)
    return rows


@dataclass
class _Plan:
    """The rows checked against the locked stages: what changes, and the new total."""

    removed: list[Milestone] = field(default_factory=list)
    edited: list[tuple[Milestone, dict[str, Any]]] = field(default_factory=list)
    added: list[dict[str, Any]] = field(default_factory=list)
    amount_after: int = 0


def _plan(escrow: Escrow, milestones: list[Milestone], rows: list[dict[str, Any]], *, stale: bool) -> _Plan:
    """Check each row against the stages as they are now (under the escrow lock): the stages it
    changes or removes are still to come, each is named once, none is part of an open refund
    request, a removed one has no dispute on record, a stage is left to deliver afterwards and
    the new total is within what one escrow can hold. `stale`: the rows were proposed earlier
    (acceptance), so a stage that moved on since makes the proposal out of date."""
    by_id = {m.public_id: m for m in milestones}
    plan = _Plan(amount_after=escrow.amount)
    seen: set[str] = set()
    touched: list[Milestone] = []
    for i, row in enumerate(rows):
        kind = row.get("kind")
        if kind == "add":
            plan.added.append(row)
            plan.amount_after += int(row["amount"])
            continue
        m = by_id.get(str(row.get("milestone")))
        if m is None:
            raise InvalidState(
                f"Stage {int(row.get('index', 0)) + 1} is no longer part of this escrow; "
                "propose the change again",
                code="change_order_stale",
            )
        if m.public_id in seen:
            raise _refused(
                f"stage {m.index + 1} is named twice",
                i,
                code="stage_named_twice",
                for_person=f"Stage {m.index + 1} can be changed or removed once in a proposal.",
            )
        seen.add(m.public_id)
        refusal = m.change_refusal()
        if refusal is not None:
            if stale:
                raise InvalidState(
                    f"{refusal} since this change was proposed; decline it and propose again",
                    code="change_order_stale",
                )
            raise InvalidState(
                f"{refusal}; a change order only changes the stages still to come", code="stage_not_future"
            )
        if stale and kind == "edit" and "amount" in row["before"] and row["before"]["amount"] != m.amount:
            raise InvalidState(
                f"Stage {m.index + 1}'s amount changed since this change was proposed; propose again",
                code="change_order_stale",
            )
        touched.append(m)
        if kind == "remove":
            plan.removed.append(m)
            plan.amount_after -= m.amount
        else:
            after = row["after"]
            plan.edited.append((m, after))
            if "amount" in after:
                plan.amount_after += int(after["amount"]) - m.amount
    if touched:
        _refuse_requested_stages(escrow, touched)
    removed_ids = {m.pk for m in plan.removed}
    if plan.removed and Dispute.objects.filter(milestone_id__in=removed_ids).exists():
        stage = next(m for m in plan.removed if Dispute.objects.filter(milestone=m).exists())
        raise InvalidState(
            f"Stage {stage.index + 1} has a dispute on record and stays part of the escrow; "
            "change its amount instead of removing it",
            code="stage_has_dispute",
        )
    left = [m for m in milestones if m.pk not in removed_ids and not m.is_settled]
    if not left and not plan.added:
        raise InvalidState(
            "A change order must leave at least one stage to deliver; to end the escrow early, "
            "propose a cancellation instead",
            code="nothing_left",
        )
    check_escrow_amount(plan.amount_after, escrow.currency)
    return plan


def _refuse_requested_stages(escrow: Escrow, stages: list[Milestone]) -> None:
    """A stage the buyer asked to have refunded is not changed under that request: it is answered
    or withdrawn first."""
    ids = {m.public_id for m in stages}
    for request in RefundRequest.objects.filter(escrow=escrow, status=RefundRequestStatus.REQUESTED):
        for m in stages:
            if m.public_id in set(request.milestone_ids) & ids:
                raise InvalidState(
                    f"Stage {m.index + 1} is part of an open refund request; answer or withdraw it first",
                    code="refund_request_open",
                )


def _row_due_date(row: dict[str, Any]) -> datetime | None:
    """The due date a row sets, if any."""
    value = row.get("dueDate") if row.get("kind") == "add" else _after(row).get("dueDate")
    return parse_datetime(value) if isinstance(value, str) else None


def _after(row: dict[str, Any]) -> dict[str, Any]:
    after = row.get("after")
    return after if isinstance(after, dict) else {}


def _predicted_indexes(milestones: list[Milestone], rows: list[dict[str, Any]]) -> None:
    """Where each added stage lands: after the last stage once the removed ones are gone."""
    removed = {r.get("milestone") for r in rows if r.get("kind") == "remove"}
    next_index = sum(1 for m in milestones if m.public_id not in removed)
    for row in rows:
        if row.get("kind") == "add":
            row["index"] = next_index
            next_index += 1


# -- proposing and answering ------------------------------------------------------------------


def _lock_proposal(escrow: Escrow, proposal: ChangeProposal) -> ChangeProposal:
    try:
        return ChangeProposal.objects.select_for_update().get(pk=proposal.pk, escrow=escrow)
    except ChangeProposal.DoesNotExist:
        raise NotFound("Change order not found") from None


def _refuse_closed_proposal(proposal: ChangeProposal) -> None:
    if not proposal.is_open:
        raise InvalidState(
            f"This change order was already {proposal.get_status_display().lower()}",
            code="change_order_closed",
        )


def _check_escrow(escrow: Escrow) -> None:
    refusal = escrow.change_order_refusal()
    if refusal is None:
        return
    code = "not_funded" if escrow.status == EscrowStatus.AWAITING_PAYMENT else "escrow_closed"
    if not escrow.is_milestone:
        code = "not_milestone_escrow"
    raise InvalidState(refusal, code=code)


def _pay_source(source: str | None, card_token: str) -> tuple[str, str]:
    source = source or FundingSource.WALLET
    if source not in FundingSource.values:
        raise InvalidRequest(
            f"paySource must be one of: {', '.join(FundingSource.values)}",
            field="paySource",
            for_person="Choose to pay from your balance or by card.",
        )
    token = (card_token or "").strip() if source == FundingSource.CARD else ""
    if source == FundingSource.CARD and not token:
        raise InvalidRequest(
            "cardToken is required to pay by card",
            field="cardToken",
            for_person="Enter the card to pay with.",
        )
    return source, token[:100]


def _details(proposal: ChangeProposal, quote: ChangeQuote) -> dict[str, Any]:
    return {
        "changeOrder": proposal.public_id,
        "role": proposal.proposer_role,
        "changes": proposal.changes,
        "amountBefore": quote.amount_before,
        "amountAfter": quote.amount_after,
        "difference": quote.difference,
        "fee": quote.fee,
    }


@dataclass(frozen=True)
class ChangeDraft:
    """A proposal as it would be recorded: its rows, the money, how a buyer proposer pays."""

    role: str
    rows: list[dict[str, Any]]
    quote: ChangeQuote
    note: str
    pay_source: str
    card_token: str


def _draft(
    escrow: Escrow,
    milestones: list[Milestone],
    *,
    by: User,
    changes: Sequence[StageChange],
    note: str,
    pay_source: str | None,
    card_token: str,
    now: datetime,
) -> ChangeDraft:
    """Every check of a proposal, writing nothing: the party, the escrow, no open proposal, each
    change against the stages as read, the note, and how a buyer pays an increase."""
    role = _require_party(escrow, by)
    _check_escrow(escrow)
    if ChangeProposal.objects.filter(escrow=escrow, status=ChangeProposalStatus.OPEN).exists():
        raise Conflict(
            "There is already an open change order on this escrow; answer or withdraw it first",
            code="change_order_open",
        )
    rows = _rows_from_input(escrow, milestones, changes, now)
    plan = _plan(escrow, milestones, rows, stale=False)
    _predicted_indexes(milestones, rows)
    note = (note or "").strip()
    if len(note) > REASON_MAX:
        raise InvalidRequest(
            f"note must be at most {REASON_MAX} characters",
            field="note",
            for_person=f"The note can be at most {REASON_MAX:,} characters.",
        )
    source, token = "", ""
    if role == "buyer" and plan.amount_after > escrow.amount:
        source, token = _pay_source(pay_source, card_token)
    quote = ChangeQuote(
        currency=escrow.currency,
        amount_before=escrow.amount,
        amount_after=plan.amount_after,
        fee=change_order_fee(escrow, plan.amount_after),
    )
    return ChangeDraft(role=role, rows=rows, quote=quote, note=note, pay_source=source, card_token=token)


def change_order_check(
    *,
    escrow: Escrow,
    by: User,
    changes: Sequence[StageChange],
    note: str = "",
    pay_source: str | None = None,
    card_token: str = "",
) -> ChangeDraft:
    """What change_order_propose would record, by the same checks, writing nothing (the page's
    review step before it sends the proposal). The proposal itself checks again under the lock."""
    escrow = Escrow.objects.select_related("seller", "buyer").get(pk=escrow.pk)
    milestones = list(Milestone.objects.filter(escrow=escrow).order_by("index"))
    for m in milestones:
        Milestone.escrow.field.set_cached_value(m, escrow)
    return _draft(
        escrow,
        milestones,
        by=by,
        changes=changes,
        note=note,
        pay_source=pay_source,
        card_token=card_token,
        now=timezone.now(),
    )


@transaction.atomic(durable=True)
def change_order_propose(
    *,
    escrow: Escrow,
    by: User,
    changes: Sequence[StageChange],
    note: str = "",
    pay_source: str | None = None,
    card_token: str = "",
) -> ChangeProposal:
    """Either party proposes changes to the stages still to come of a funded, open escrow; one
    open proposal per escrow. A buyer whose proposal raises the total names how they pay the
    increase when it is accepted (`pay_source`: their balance, the default, or a card)."""
    escrow = _lock_escrow(escrow)
    now = timezone.now()
    draft = _draft(
        escrow,
        _milestones(escrow),
        by=by,
        changes=changes,
        note=note,
        pay_source=pay_source,
        card_token=card_token,
        now=now,
    )
    proposal = ChangeProposal.objects.create(
        escrow=escrow,
        proposed_by=by,
        proposer_role=draft.role,
        changes=draft.rows,
        note=draft.note,
        amount_before=escrow.amount,
        amount_after=draft.quote.amount_after,
        pay_source=draft.pay_source,
        card_token=draft.card_token,
        lapses_at=now + settings.ESCROW_CHANGE_PROPOSAL_LAPSE,
    )
    _event(
        "change_order.proposed",
        by=by,
        escrow=escrow,
        details={
            **_details(proposal, draft.quote),
            "note": draft.note,
            "lapsesAt": proposal.lapses_at.isoformat(),
        },
    )
    return proposal


def _short_of_funds(escrow: Escrow, *, role: str, quote: ChangeQuote, available: int) -> InsufficientFunds:
    currency = escrow.currency
    cost = format_money(quote.buyer_pays, currency)
    parts = f"{format_money(quote.difference, currency)} + {format_money(quote.fee, currency)} fee"
    has = format_money(available, currency)
    if role == "buyer":
        words = (
            f"This change costs you {cost} ({parts}) and your balance holds {has}; nothing was charged. "
            "Top up your balance or pay by card, then accept again."
        )
    else:
        words = (
            f"This change costs the buyer {cost} ({parts}) and their balance holds {has}; nothing was "
            "charged. Ask the buyer to top up their balance, or to withdraw the proposal and propose it "
            "again paying by card."
        )
    return InsufficientFunds(words, code="insufficient_funds")


def _pay_increase(
    escrow: Escrow, proposal: ChangeProposal, quote: ChangeQuote, *, role: str, source: str, card_token: str
) -> None:
    """The buyer pays the increase and its fee: from their balance (refused, nothing charged,
    when it is short) or by card. One posting: payer -> hold (the increase) + fees."""
    buyer = escrow.buyer
    assert buyer is not None
    currency = escrow.currency
    total = quote.buyer_pays
    if source == FundingSource.WALLET:
        payer = ledger.customer_account(buyer, currency)
        locked = ledger.lock_account(payer)
        if locked.balance < total:
            raise _short_of_funds(escrow, role=role, quote=quote, available=locked.balance)
    else:
        if not settings.ESCROW_TEST_MODE:
            raise TestModeOnly("Card payments are not configured")
        payer = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, currency)
        proposal.gateway_reference = card_gateway().charge(
            reference=f"{buyer.customer_id}:{proposal.public_id}",
            amount=total,
            currency=currency,
            card_token=card_token,
        )
    entries = [(payer, -total), (ledger.hold_account(escrow), quote.difference)]
    if quote.fee:
        entries.append((ledger.platform_account(AccountKind.PLATFORM_FEES, currency), quote.fee))
    ledger.post(TransactionKind.CHANGE_ORDER, currency, entries, escrow=escrow, memo=proposal.public_id)
    proposal.paid_amount, proposal.paid_fee, proposal.paid_from = quote.difference, quote.fee, source


def _apply(escrow: Escrow, milestones: list[Milestone], plan: _Plan, now: datetime) -> list[Milestone]:
    """Change the stages: remove, edit, renumber (in order, so each index is free when taken) and
    append the new ones. Returns the stages as they are now."""
    removed = {m.pk for m in plan.removed}
    if removed:
        # The removed stages' audit rows stay, detached (each names its stage in its details).
        Event.objects.filter(milestone_id__in=removed).update(milestone=None)
        Milestone.objects.filter(pk__in=removed).delete()
    for m, after in plan.edited:
        fields: list[str] = []
        if "amount" in after:
            m.amount = int(after["amount"])
            fields.append("amount")
        if "title" in after:
            m.title = after["title"]
            fields.append("title")
        if "description" in after:
            m.description = after["description"]
            fields.append("description")
        if "dueDate" in after:
            fields += m.move_due_date(parse_datetime(after["dueDate"]) if after["dueDate"] else None)
        m.save(update_fields=fields)
    kept = sorted((m for m in milestones if m.pk not in removed), key=lambda m: m.index)
    for position, m in enumerate(kept):
        if m.index != position:
            m.index = position
            m.save(update_fields=["index"])
    for offset, row in enumerate(plan.added):
        due = row.get("dueDate")
        Milestone.objects.create(
            escrow=escrow,
            index=len(kept) + offset,
            title=row.get("title", ""),
            description=row.get("description", ""),
            amount=int(row["amount"]),
            due_date=parse_datetime(due) if due else None,
        )
    return _milestones(escrow)


@transaction.atomic(durable=True)
def change_order_accept(
    *, proposal: ChangeProposal, by: User, pay_source: str | None = None, card_token: str = ""
) -> ChangeProposal:
    """The other party accepts, and in this one transaction: each change is checked again against
    the stages as they are now (one that moved on since refuses the whole proposal); the buyer
    pays an increase and its fee (the buyer accepting chooses `pay_source`; a buyer's own proposal
    pays as it named) or a decrease goes back to where they paid from; the stages change and are
    renumbered; the escrow's amount, fee and terms version move on, and the new version is
    recorded agreed by both."""
    escrow = _lock_escrow(proposal.escrow)
    role = _require_party(escrow, by)
    proposal = _lock_proposal(escrow, proposal)
    if role == proposal.proposer_role:
        raise Forbidden("Only the other party can accept this change order; you can withdraw it")
    _refuse_closed_proposal(proposal)
    _check_escrow(escrow)
    milestones = _milestones(escrow)
    now = timezone.now()
    if proposal.ran_out(now):
        # Past its time the proposer is no longer bound, even before the timer lapses it.
        raise InvalidState(
            "This change order ran out unanswered; it can no longer be accepted",
            code="change_order_lapsed",
            for_person="This change order ran out before it was answered, so it can no longer be "
            "accepted. Ask for it to be proposed again.",
        )
    for row in proposal.changes:
        due = _row_due_date(row)
        if due is not None and due <= now:
            raise InvalidState(
                f"The due date proposed for stage {int(row.get('index', 0)) + 1} has passed since this "
                "change was proposed; propose again",
                code="change_order_stale",
            )
    plan = _plan(escrow, milestones, proposal.changes, stale=True)
    if plan.amount_after != proposal.amount_after or escrow.amount != proposal.amount_before:
        raise InvalidState(
            "The escrow's total changed since this change was proposed; propose again",
            code="change_order_stale",
        )
    quote = change_order_quote(escrow, proposal)
    if quote.difference > 0:
        if role == "buyer":
            source, token = _pay_source(pay_source, card_token)
        else:
            source, token = proposal.pay_source or FundingSource.WALLET, proposal.card_token
        _pay_increase(escrow, proposal, quote, role=role, source=source, card_token=token)
    elif quote.difference < 0:
        _give_back(
            TransactionKind.CHANGE_ORDER,
            escrow,
            [(ledger.hold_account(escrow), quote.difference)],
            to_buyer=quote.buyer_gets_back,
            memo=proposal.public_id,
        )
        proposal.refunded_amount = quote.buyer_gets_back
    stages = _apply(escrow, milestones, plan, now)
    escrow.amount = plan.amount_after
    escrow.fee += quote.fee
    escrow.terms_version += 1
    escrow.save(update_fields=["amount", "fee", "terms_version", "updated_at"])
    proposal.accept()
    proposal.decided_by = by
    proposal.decided_at = now
    proposal.card_token = ""
    proposal.save(
        update_fields=[
            "status",
            "decided_by",
            "decided_at",
            "card_token",
            "paid_amount",
            "paid_fee",
            "paid_from",
            "gateway_reference",
            "refunded_amount",
        ]
    )
    _record_terms(
        escrow,
        stages,
        reason=TermsReason.CHANGE_ORDER,
        proposed_by=proposal.proposed_by,
        proposer_role=proposal.proposer_role,
        proposed_at=proposal.created_at,
        agreed={role: now},
        changes=proposal.changes,
        change_proposal=proposal,
    )
    refund_to = ""
    if proposal.refunded_amount:
        refund_to = "wallet" if escrow.payment.source == FundingSource.WALLET else "card"
    _event(
        "change_order.accepted",
        by=by,
        escrow=escrow,
        details={
            **_details(proposal, quote),
            "paid": proposal.paid_amount,
            "paidFrom": proposal.paid_from,
            "refunded": proposal.refunded_amount,
            "refundedTo": refund_to,
            "termsVersion": escrow.terms_version,
        },
    )
    # A cancellation proposal splitting what was held before no longer adds up.
    _supersede_stale(escrow, stages, by=by)
    return proposal


@transaction.atomic(durable=True)
def change_order_decline(*, proposal: ChangeProposal, by: User, reason: str) -> ChangeProposal:
    """The other party declines, saying why; nothing changes."""
    escrow = _lock_escrow(proposal.escrow)
    role = _require_party(escrow, by)
    proposal = _lock_proposal(escrow, proposal)
    if role == proposal.proposer_role:
        raise Forbidden("Only the other party can decline this change order; you can withdraw it")
    _refuse_closed_proposal(proposal)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest(
            "Say why you decline the change", field="reason", for_person="Say why you decline the change."
        )
    if len(reason) > REASON_MAX:
        raise InvalidRequest(
            f"reason must be at most {REASON_MAX} characters",
            field="reason",
            for_person=f"The reason can be at most {REASON_MAX:,} characters.",
        )
    return _close(
        proposal, proposal.decline, escrow=escrow, by=by, kind="change_order.declined", reason=reason
    )


@transaction.atomic(durable=True)
def change_order_withdraw(*, proposal: ChangeProposal, by: User) -> ChangeProposal:
    """The proposer takes the proposal back before it is answered."""
    escrow = _lock_escrow(proposal.escrow)
    role = _require_party(escrow, by)
    proposal = _lock_proposal(escrow, proposal)
    if role != proposal.proposer_role:
        raise Forbidden("Only the party who proposed the change order can withdraw it")
    _refuse_closed_proposal(proposal)
    return _close(proposal, proposal.withdraw, escrow=escrow, by=by, kind="change_order.withdrawn")


def _close(
    proposal: ChangeProposal,
    transition: Any,
    *,
    escrow: Escrow,
    by: Actor,
    kind: str,
    reason: str = "",
) -> ChangeProposal:
    before = proposal.status
    transition()
    proposal.decided_by = by
    proposal.decided_at = timezone.now()
    proposal.decline_reason = reason
    proposal.card_token = ""
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decline_reason", "card_token"])
    _event(
        kind,
        by=by,
        escrow=escrow,
        from_status=before,
        to_status=proposal.status,
        details={
            "changeOrder": proposal.public_id,
            "role": proposal.proposer_role,
            "amountBefore": proposal.amount_before,
            "amountAfter": proposal.amount_after,
            **({"reason": reason} if reason else {}),
        },
    )
    return proposal


# -- the lapse timer --------------------------------------------------------------------------


def change_orders_due(now: datetime | None = None) -> QuerySet[ChangeProposal]:
    """Open change orders to lapse now (for the timer): unanswered past `lapses_at`, or on an
    escrow that is no longer open. `change_order_lapse` decides again under the lock."""
    now = now or timezone.now()
    return ChangeProposal.objects.filter(status=ChangeProposalStatus.OPEN).filter(
        Q(lapses_at__lte=now) | ~Q(escrow__status=EscrowStatus.OPENED)
    )


@transaction.atomic(durable=True)
def change_order_lapse(*, proposal: ChangeProposal) -> ChangeProposal | None:
    """Timer: an open change order nobody answered within ESCROW_CHANGE_PROPOSAL_LAPSE, or whose
    escrow closed meanwhile, lapses. None when it is not due (answered meanwhile, or not yet)."""
    escrow = _lock_escrow(proposal.escrow)
    proposal = _lock_proposal(escrow, proposal)
    now = timezone.now()
    if not proposal.is_open:
        return None
    closed = escrow.status != EscrowStatus.OPENED
    if not closed and not proposal.ran_out(now):
        return None
    proposal.lapse()
    proposal.decided_at = now
    proposal.card_token = ""
    proposal.save(update_fields=["status", "decided_at", "card_token"])
    _event(
        "change_order.lapsed",
        by=None,
        escrow=escrow,
        from_status=ChangeProposalStatus.OPEN,
        to_status=proposal.status,
        details={
            "changeOrder": proposal.public_id,
            "role": proposal.proposer_role,
            "amountBefore": proposal.amount_before,
            "amountAfter": proposal.amount_after,
            "reason": "escrow closed" if closed else "no answer in time",
        },
    )
    return proposal
