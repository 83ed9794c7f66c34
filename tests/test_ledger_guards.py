import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from escrows import ledger
from escrows.models import AccountKind, Escrow, LedgerEntry, LedgerTransaction
from tests.helpers import fund, make_escrow


@pytest.mark.django_db
def test_status_cannot_be_assigned_directly(seller):
    escrow = make_escrow(seller)
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        escrow.status = "COMPLETED"


@pytest.mark.django_db
def test_post_refuses_unbalanced_transactions(seller):
    a = ledger.customer_account(seller, "USD")
    b = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "USD")
    with transaction.atomic(), pytest.raises(ledger.UnbalancedTransaction):
        ledger.post("TOPUP", "USD", [(a, 100), (b, -99)])


@pytest.mark.django_db(transaction=True)
def test_post_refuses_to_run_outside_a_transaction(seller):
    a = ledger.customer_account(seller, "USD")
    b = ledger.platform_account(AccountKind.EXTERNAL_FUNDING, "USD")
    with pytest.raises(RuntimeError, match="inside the transaction"):
        ledger.post("TOPUP", "USD", [(a, 100), (b, -100)])
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_entries_cannot_be_updated_or_deleted(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    entry = LedgerEntry.objects.first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()


@pytest.mark.django_db
def test_customer_balance_cannot_go_negative_in_the_database(seller):
    account = ledger.customer_account(seller, "USD")
    with pytest.raises(IntegrityError), transaction.atomic():
        type(account).objects.filter(pk=account.pk).update(balance=-1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_unbalanced_transaction_cannot_commit(seller):
    if connection.vendor != "postgresql":
        pytest.skip("the commit-time balance trigger is PostgreSQL only")
    account = ledger.customer_account(seller, "USD")
    with pytest.raises(DatabaseError, match="does not sum to zero"), transaction.atomic():
        txn = LedgerTransaction.objects.create(kind="TOPUP", currency="USD")
        LedgerEntry.objects.create(transaction=txn, account=account, amount=500)
    assert not LedgerEntry.objects.filter(account=account).exists()
    assert Escrow.objects.count() == 0
