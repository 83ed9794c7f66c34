"""TIME_LOCKED payment intents: created with `metadata.timeLockUntil` (unix seconds), released to
the seller at that time and only once delivered, by the timer beat runs every minute (or at once
on the proof of delivery when the time has already come), exactly once."""

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from escrows.models import Escrow, EscrowStatus, Event
from escrows.selectors import wallet_balance
from escrows.tasks import process_due, run_timers
from tests.api.conditional_payment_helpers import create, error_of, paid, prove, read
from tests.helpers import assert_ledger_invariants, at, ledger_fingerprint

pytestmark = pytest.mark.django_db


def locked(until: datetime) -> dict:
    return {"releaseType": "TIME_LOCKED", "timeLockUntil": str(int(until.timestamp()))}


@pytest.mark.parametrize("value", ["1735689600", 1735689600])
def test_a_time_locked_intent_keeps_its_time(seller_api, value):
    intent = create(seller_api, {"releaseType": "TIME_LOCKED", "timeLockUntil": value, "autoRelease": True})
    escrow = Escrow.objects.get(public_id=intent["id"])
    assert escrow.time_lock_until == datetime(2025, 1, 1, tzinfo=UTC)
    # A time lock releases at its time, whatever autoRelease says; it has no milestones.
    assert (intent["releaseType"], intent["timeLockUntil"], intent["autoReleaseOnProof"]) == (
        "TIME_LOCKED",
        "1735689600",
        False,
    )
    assert intent["settlementType"] == "STANDARD"


@pytest.mark.parametrize(
    "metadata, message",
    [
        (
            {"releaseType": "TIME_LOCKED"},
            "metadata.timeLockUntil is required with releaseType TIME_LOCKED: the unix time (in seconds) "
            "from which the payment may be released",
        ),
        (
            {"releaseType": "DELIVERY_PROOF", "timeLockUntil": "1735689600"},
            "metadata.timeLockUntil applies only with releaseType TIME_LOCKED",
        ),
        (
            {"timeLockUntil": 1735689600},
            "metadata.timeLockUntil applies only with releaseType TIME_LOCKED",
        ),
    ],
)
def test_a_time_lock_goes_with_time_locked_and_only_with_it(seller_api, metadata, message):
    r = seller_api.post(
        "/v1/payment-intents", {"amount": "10.00", "currency": "USD", "metadata": metadata}, format="json"
    )
    error = error_of(r, 400, message)
    assert error["param"] == "metadata.timeLockUntil"
    assert not Escrow.objects.exists()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "soon",
        "-1",
        "0",
        0,
        -5,
        1.5,
        True,
        None,
        [],
        "99999999999999",
        253_402_300_800,
        "1735689600.0",
        "１２",
    ],
)
def test_a_time_lock_that_is_not_unix_seconds_is_a_400(seller_api, value):
    r = seller_api.post(
        "/v1/payment-intents",
        {
            "amount": "10.00",
            "currency": "USD",
            "metadata": {"releaseType": "TIME_LOCKED", "timeLockUntil": value},
        },
        format="json",
    )
    assert error_of(r, 400)["param"] == "metadata.timeLockUntil"
    assert not Escrow.objects.exists()


def test_an_unknown_release_type_names_the_four(seller_api):
    r = seller_api.post(
        "/v1/payment-intents",
        {"amount": "10.00", "currency": "USD", "metadata": {"releaseType": "WHENEVER"}},
        format="json",
    )
    error_of(
        r,
        400,
        "metadata.releaseType must be one of: MILESTONE_LOCKED, DELIVERY_PROOF, TIME_LOCKED, AUTO_RELEASE",
    )


def test_released_by_the_timer_at_its_time_once_delivered(seller_api, seller, buyer):
    until = timezone.now() + timedelta(days=3)
    escrow = paid(seller_api, buyer, locked(until))
    assert prove(seller_api, escrow.public_id).status_code == 200
    # Delivered, the time not come: held.
    assert Escrow.objects.get(pk=escrow.pk).status == EscrowStatus.OPENED
    assert read(seller_api, escrow.public_id).json()["data"]["orderStatus"] == "DELIVERED"
    with at(until - timedelta(seconds=1)):
        assert run_timers()["time_locks_released"] == 0
    assert Escrow.objects.get(pk=escrow.pk).status == EscrowStatus.OPENED
    with at(until):
        assert process_due()["time_locks_released"] == 1
    escrow = Escrow.objects.get(pk=escrow.pk)
    assert escrow.status == EscrowStatus.COMPLETED
    assert wallet_balance(seller, "USD") == 100_000
    released = Event.objects.get(kind="time_lock.released", escrow=escrow)
    assert released.details["timeLockUntil"] == until.replace(microsecond=0).isoformat()
    assert Event.objects.get(kind="escrow.completed", escrow=escrow).details["reason"] == "time lock passed"
    data = read(seller_api, escrow.public_id).json()["data"]
    assert (data["orderStatus"], data["settlementStatus"]) == ("COMPLETED", "EXECUTED")
    assert_ledger_invariants()
    # Again: nothing more moves.
    before = ledger_fingerprint()
    with at(until + timedelta(hours=1)):
        assert run_timers()["time_locks_released"] == 0
    assert ledger_fingerprint() == before


def test_not_released_before_delivery_however_late(seller_api, buyer):
    until = timezone.now() + timedelta(hours=1)
    paid(seller_api, buyer, locked(until))
    before = ledger_fingerprint()
    with at(until + timedelta(days=30)):
        assert run_timers()["time_locks_released"] == 0
    assert ledger_fingerprint() == before


def test_a_time_already_past_releases_on_the_proof(seller_api, seller, buyer):
    escrow = paid(seller_api, buyer, {"releaseType": "TIME_LOCKED", "timeLockUntil": "1735689600"})
    assert prove(seller_api, escrow.public_id).status_code == 200
    assert Escrow.objects.get(pk=escrow.pk).status == EscrowStatus.COMPLETED
    assert Event.objects.filter(kind="time_lock.released", escrow=escrow).count() == 1
    assert wallet_balance(seller, "USD") == 100_000
    assert run_timers()["time_locks_released"] == 0
    assert_ledger_invariants()


def test_a_dispute_holds_the_money_past_the_time(seller_api, buyer_api, buyer):
    until = timezone.now() + timedelta(hours=1)
    escrow = paid(seller_api, buyer, locked(until))
    prove(seller_api, escrow.public_id)
    r = buyer_api.post(
        f"/v1/payment-intents/{escrow.public_id}/escrow/dispute",
        {"reason": "Damaged", "raisedBy": "buyer"},
        format="json",
    )
    assert r.status_code == 200
    with at(until + timedelta(hours=1)):
        assert run_timers()["time_locks_released"] == 0
    assert Escrow.objects.get(pk=escrow.pk).status == EscrowStatus.DISPUTED


def test_beat_runs_the_timers_every_minute():
    assert settings.CELERY_BEAT_SCHEDULE["process-due"]["task"] == "escrows.tasks.process_due"
