"""The database itself refuses what the services never do: statuses jumping outside the FSM,
ledger rows being rewritten or removed, a ledger transaction that does not sum to zero. Each
guard is proven by writing around the ORM's protections (querysets and raw SQL)."""

import importlib
import itertools

import pytest
from django.db import DatabaseError, connection, transaction

from escrows import ledger
from escrows.models import (
    AccountKind,
    CancellationProposal,
    CancellationStatus,
    ChangeProposal,
    ChangeProposalStatus,
    Dispute,
    DisputeStatus,
    Escrow,
    EscrowStatus,
    LedgerEntry,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
    RefundRequest,
    RefundRequestStatus,
    Settlement,
    SettlementStatus,
)
from tests.helpers import fund, make_escrow
from tests.reliability import figures

SECTION = "database guards"
# The migrations that set the guarded pairs, the latest of each table winning.
guards = importlib.import_module("escrows.migrations.0006_beyond_status_guards")
request_guards = importlib.import_module("escrows.migrations.0010_request_status_guards")
milestone_guards = importlib.import_module(
    "escrows.migrations.0013_milestone_partial_release_changes_due_dates"
)
change_order_guards = importlib.import_module("escrows.migrations.0015_change_orders")
GUARDED = {
    **guards.TRANSITIONS,
    **request_guards.TRANSITIONS,
    **milestone_guards.MILESTONE_GUARD,
    **change_order_guards.TRANSITIONS,
}


def _fsm_pairs(model) -> set[tuple[str, str]]:
    field = model._meta.get_field("status")
    return {(str(t.source), str(t.target)) for t in field.get_all_transitions(model) if t.source != t.target}


@pytest.mark.parametrize(
    "model", [Escrow, Milestone, Settlement, Dispute, RefundRequest, CancellationProposal, ChangeProposal]
)
def test_the_guarded_pairs_are_exactly_the_fsm_transitions(model):
    assert set(GUARDED[model._meta.db_table]) == _fsm_pairs(model)


def _row_in(model, status: str, seller, escrow):
    """A row inserted directly in `status` (inserts are not guarded: only moves are)."""
    if model is Escrow:
        return Escrow.objects.create(
            seller=seller,
            title="guard",
            currency="USD",
            amount=100,
            fee=100,
            fee_schedule_version="t",
            inspection_period=escrow.inspection_period,
            expires_at=escrow.expires_at,
            status=status,
        )
    if model is Milestone:
        index = Milestone.objects.filter(escrow=escrow).count()
        return Milestone.objects.create(escrow=escrow, index=index, amount=1, status=status)
    if model is Dispute:
        # Live whole-escrow disputes are unique per escrow: each row gets an escrow of its own.
        return Dispute.objects.create(
            escrow=make_escrow(seller),
            opened_by=seller,
            opener_role="seller",
            reason="guard",
            amount=1,
            deadline=escrow.expires_at,
            default_outcome="split",
            default_seller_amount=0,
            default_buyer_amount=1,
            status=status,
        )
    if model is RefundRequest:
        return RefundRequest.objects.create(escrow=escrow, requested_by=seller, amount=1, status=status)
    if model is CancellationProposal:
        return CancellationProposal.objects.create(
            escrow=escrow,
            proposed_by=seller,
            proposer_role="seller",
            buyer_amount=1,
            seller_amount=0,
            status=status,
        )
    if model is ChangeProposal:
        # One open change order per escrow: each row gets an escrow of its own.
        return ChangeProposal.objects.create(
            escrow=make_escrow(seller),
            proposed_by=seller,
            proposer_role="seller",
            changes=[],
            amount_before=1,
            amount_after=2,
            lapses_at=escrow.expires_at,
            status=status,
        )
    return Settlement.objects.create(
        customer=seller, amount=1, currency="USD", method="OFF_RAMP_MOCK", destination="x", status=status
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("model", "statuses"),
    [
        (Escrow, EscrowStatus.values),
        (Milestone, MilestoneStatus.values),
        (Settlement, SettlementStatus.values),
        (Dispute, DisputeStatus.values),
        (RefundRequest, RefundRequestStatus.values),
        (CancellationProposal, CancellationStatus.values),
        (ChangeProposal, ChangeProposalStatus.values),
    ],
)
def test_status_moves_only_along_transitions(model, statuses, seller):
    allowed = _fsm_pairs(model)
    escrow = make_escrow(seller)
    wrong = []
    for source, target in itertools.permutations(statuses, 2):
        row = _row_in(model, source, seller, escrow)
        figures.add(SECTION, "status moves tried")
        try:
            with transaction.atomic():
                model.objects.filter(pk=row.pk).update(status=target)
            moved = True
        except DatabaseError:
            moved = False
        if moved != ((source, target) in allowed):
            wrong.append((source, target, "moved" if moved else "refused"))
        figures.add(SECTION, "illegal moves refused", int(not moved and (source, target) not in allowed))
    figures.add(SECTION, "violations", len(wrong))
    assert wrong == []


@pytest.mark.django_db
def test_raw_sql_cannot_jump_an_escrow_to_completed(seller):
    escrow = make_escrow(seller)
    figures.add(SECTION, "status moves tried")
    with (
        pytest.raises(DatabaseError, match="illegal status transition"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE escrows_escrow SET status = 'COMPLETED' WHERE id = %s", [escrow.pk])
    figures.add(SECTION, "illegal moves refused")
    assert Escrow.objects.get(pk=escrow.pk).status == EscrowStatus.AWAITING_PAYMENT


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE escrows_ledgerentry SET amount = amount + 1 WHERE id = %s",
        "DELETE FROM escrows_ledgerentry WHERE id = %s",
        "UPDATE escrows_ledgertransaction SET memo = 'rewritten' WHERE id = %s",
        "DELETE FROM escrows_ledgertransaction WHERE id = %s",
    ],
)
def test_ledger_rows_cannot_be_rewritten_or_removed(sql, seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    entry = LedgerEntry.objects.select_related("transaction").first()
    target = entry.pk if "ledgerentry" in sql else entry.transaction_id
    figures.add(SECTION, "ledger rewrites tried")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [target])
    figures.add(SECTION, "ledger rewrites refused")


@pytest.mark.django_db
def test_ledger_transactions_cannot_be_changed_through_the_orm(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    txn = LedgerTransaction.objects.first()
    for attempt in (
        lambda: LedgerTransaction.objects.filter(pk=txn.pk).update(kind="REFUND"),
        lambda: LedgerTransaction.objects.filter(pk=txn.pk).delete(),
    ):
        figures.add(SECTION, "ledger rewrites tried")
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
        figures.add(SECTION, "ledger rewrites refused")
    assert LedgerTransaction.objects.filter(pk=txn.pk, kind=txn.kind).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_raw_unbalanced_transaction_cannot_commit_but_a_balanced_one_can(seller):
    if connection.vendor != "postgresql":
        pytest.skip("the commit-time balance check is a deferred constraint trigger: PostgreSQL only")
    main = ledger.customer_account(seller, "USD")
    outside = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "USD")
    insert_txn = (
        "INSERT INTO escrows_ledgertransaction (kind, currency, memo, created_at) "
        "VALUES ('TOPUP', 'USD', 'raw', now()) RETURNING id"
    )
    insert_entry = "INSERT INTO escrows_ledgerentry (transaction_id, account_id, amount) VALUES (%s, %s, %s)"
    figures.add(SECTION, "unbalanced commits tried")
    with (
        pytest.raises(DatabaseError, match="does not sum to zero"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(insert_txn)
        txn_id = cursor.fetchone()[0]
        cursor.execute(insert_entry, [txn_id, main.pk, 500])
        cursor.execute(insert_entry, [txn_id, outside.pk, -499])
    figures.add(SECTION, "unbalanced commits refused")
    assert not LedgerEntry.objects.filter(account=main).exists()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(insert_txn)
        txn_id = cursor.fetchone()[0]
        cursor.execute(insert_entry, [txn_id, main.pk, 500])
        cursor.execute(insert_entry, [txn_id, outside.pk, -500])
    assert LedgerEntry.objects.filter(account=main).count() == 1
