"""What a delivery releases on a standard escrow, as the timer's escrow_time_lock_release decides it
under the escrow's lock: a time-locked escrow from the very instant of its time lock, once
delivered, open and not frozen by a chargeback; an auto-release escrow a freeze held back. The
call answers the escrow it released and None whenever it released nothing, leaving the ledger as
it was."""

from datetime import UTC, datetime, timedelta

import pytest

from escrows import services
from escrows.models import Escrow, EscrowStatus, Event, ReleaseType
from escrows.selectors import wallet_balance
from escrows.services import EscrowTerms
from tests.helpers import at, fund, ledger_fingerprint, refresh

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LOCK = NOW + timedelta(days=3)
HASH = "0x" + "ab" * 32


def standard(seller, buyer, release_type=ReleaseType.TIME_LOCKED, **terms):
    """A paid standard escrow of 500.00 USD."""
    if release_type == ReleaseType.TIME_LOCKED:
        terms.setdefault("time_lock_until", LOCK)
    with at(NOW):
        escrow = services.escrow_create(
            seller=seller,
            terms=EscrowTerms(
                title="Laptop",
                currency="USD",
                amount=50_000,
                settlement_type="STANDARD",
                release_type=release_type,
                **terms,
            ),
            milestones=[],
        )
        fund(escrow, buyer)
    return refresh(escrow)


def prove(escrow, seller):
    with at(NOW):
        services.delivery_proof_submit(
            escrow=escrow, by=seller, proof_hash=HASH, submitted_by="seller-wallet"
        )
    return refresh(escrow)


def freeze(escrow, frozen=True):
    Escrow.objects.filter(pk=escrow.pk).update(frozen_by_chargeback=frozen)


def released_nothing(escrow, moment, status=EscrowStatus.OPENED):
    before = (ledger_fingerprint(), Event.objects.filter(escrow=escrow).count())
    with at(moment):
        assert services.escrow_time_lock_release(escrow=escrow) is None
    escrow = refresh(escrow)
    assert escrow.status == status
    assert (ledger_fingerprint(), Event.objects.filter(escrow=escrow).count()) == before
    return escrow


def test_a_time_lock_releases_from_the_very_instant_of_its_time(seller, buyer):
    escrow = prove(standard(seller, buyer), seller)
    released_nothing(escrow, LOCK - timedelta(microseconds=1))
    with at(LOCK):
        released = services.escrow_time_lock_release(escrow=escrow)
    assert released is not None and released.pk == escrow.pk
    assert released.status == refresh(escrow).status == EscrowStatus.COMPLETED
    assert wallet_balance(seller, "USD") == 50_000
    event = Event.objects.get(escrow=escrow, kind="time_lock.released")
    assert event.details == {"timeLockUntil": LOCK.isoformat(), "amount": 50_000}


def test_a_time_lock_released_once_answers_none_the_second_time(seller, buyer):
    escrow = prove(standard(seller, buyer), seller)
    with at(LOCK):
        assert services.escrow_time_lock_release(escrow=escrow) is not None
    released_nothing(escrow, LOCK + timedelta(hours=1), status=EscrowStatus.COMPLETED)
    assert wallet_balance(seller, "USD") == 50_000


def test_a_time_lock_past_its_time_waits_for_the_delivery(seller, buyer):
    escrow = standard(seller, buyer)
    released_nothing(escrow, LOCK + timedelta(days=1))
    assert wallet_balance(seller, "USD") == 0


def test_a_chargeback_freeze_holds_a_time_lock_back_until_it_is_lifted(seller, buyer):
    escrow = prove(standard(seller, buyer), seller)
    freeze(escrow)
    released_nothing(escrow, LOCK + timedelta(days=1))
    freeze(escrow, False)
    with at(LOCK + timedelta(days=1)):
        assert services.escrow_time_lock_release(escrow=escrow) is not None
    assert refresh(escrow).status == EscrowStatus.COMPLETED


def test_a_disputed_time_lock_is_not_released_when_its_time_comes(seller, buyer):
    escrow = prove(standard(seller, buyer), seller)
    with at(NOW):
        services.conditional_payment_dispute(
            escrow=escrow, by=buyer, reason="Broken screen", raised_by="buyer"
        )
    released_nothing(escrow, LOCK + timedelta(days=1), status=EscrowStatus.DISPUTED)
    assert wallet_balance(seller, "USD") == 0


def test_an_escrow_released_on_the_buyers_word_is_not_released_by_the_timer(seller, buyer):
    escrow = prove(standard(seller, buyer, release_type=ReleaseType.DELIVERY_PROOF), seller)
    assert escrow.delivered_at is not None
    released_nothing(escrow, NOW + timedelta(days=60))


def test_an_auto_release_a_freeze_held_back_is_released_and_answered(seller, buyer):
    escrow = standard(seller, buyer, release_type=ReleaseType.AUTO_RELEASE, auto_release_on_proof=True)
    freeze(escrow)
    escrow = prove(escrow, seller)
    assert escrow.status == EscrowStatus.OPENED  # the proof released nothing while frozen
    freeze(escrow, False)
    with at(NOW + timedelta(hours=1)):
        released = services.escrow_time_lock_release(escrow=escrow)
    assert released is not None and released.status == EscrowStatus.COMPLETED
    assert wallet_balance(seller, "USD") == 50_000


def test_the_timer_picks_only_delivered_open_time_locks_whose_time_has_come(seller, buyer):
    due = prove(standard(seller, buyer), seller)
    standard(seller, buyer)  # not delivered
    prove(standard(seller, buyer, time_lock_until=LOCK + timedelta(seconds=1)), seller)  # not yet
    disputed = prove(standard(seller, buyer), seller)
    with at(NOW):
        services.conditional_payment_dispute(
            escrow=disputed, by=buyer, reason="Broken screen", raised_by="buyer"
        )
    released = prove(standard(seller, buyer, time_lock_until=NOW), seller)  # released on the proof
    assert released.status == EscrowStatus.COMPLETED
    assert list(services.escrows_time_lock_due(LOCK)) == [due]
