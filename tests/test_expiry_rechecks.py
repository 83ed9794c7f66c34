"""The timer picks escrows still awaiting payment past their expiry and calls escrow_expire for
each; the service decides again from the locked row. One not expired yet, or paid after the
pick, is left alone; an expired one is cancelled by the system."""

from datetime import timedelta

import pytest
from django.utils import timezone

from escrows import services
from escrows.models import ActorKind, Escrow, EscrowStatus, Event
from tests.helpers import fund, ledger_fingerprint, make_escrow, refresh

pytestmark = pytest.mark.django_db


def expiring_in(escrow, delta):
    Escrow.objects.filter(pk=escrow.pk).update(expires_at=timezone.now() + delta)
    return refresh(escrow)


def test_an_escrow_not_expired_yet_is_left_alone(seller):
    escrow = expiring_in(make_escrow(seller), timedelta(minutes=1))
    assert services.escrow_expire(escrow=escrow) is None
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    assert not Event.objects.filter(kind="escrow.cancelled").exists()


def test_an_escrow_paid_after_the_pick_is_left_alone(seller, buyer):
    """Paid in its last moments: the timer's object still says awaiting payment, and the expiry
    has passed by the time the service runs."""
    picked = make_escrow(seller)
    fund(refresh(picked), buyer)
    Escrow.objects.filter(pk=picked.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert picked.status == EscrowStatus.AWAITING_PAYMENT  # what the timer holds
    before = ledger_fingerprint()
    assert services.escrow_expire(escrow=picked) is None
    assert refresh(picked).status == EscrowStatus.OPENED
    assert ledger_fingerprint() == before


def test_an_expired_escrow_is_cancelled_by_the_system(seller):
    escrow = expiring_in(make_escrow(seller), -timedelta(minutes=1))
    assert services.escrow_expire(escrow=escrow) is not None
    assert refresh(escrow).status == EscrowStatus.CANCELLED
    event = Event.objects.get(kind="escrow.cancelled", escrow=escrow)
    assert event.actor_kind == ActorKind.SYSTEM
