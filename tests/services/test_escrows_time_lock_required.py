"""The release type and the time lock agree, or the escrow is refused in the API's words on the
field at fault and nothing is created: TIME_LOCKED needs its time, a time lock needs TIME_LOCKED,
and the release types that pay the whole escrow at once need a standard escrow."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidRequest
from escrows import services
from escrows.models import Escrow
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import fund, refresh

pytestmark = pytest.mark.django_db

TWO_STAGES = [MilestoneInput(amount=20_000, title="Design"), MilestoneInput(amount=30_000, title="Build")]


def test_time_locked_without_a_time_is_refused_on_its_field(seller):
    terms = EscrowTerms(
        title="Laptop", currency="USD", amount=50_000, settlement_type="STANDARD", release_type="TIME_LOCKED"
    )

    with pytest.raises(InvalidRequest) as refused:
        services.escrow_create(seller=seller, terms=terms, milestones=[])

    assert (refused.value.message, refused.value.field) == (
        "timeLockUntil is required with releaseType TIME_LOCKED: when the payment may be released, "
        "in unix seconds",
        "timeLockUntil",
    )
    assert not Escrow.objects.exists()


@pytest.mark.parametrize("release_type", ["DELIVERY_PROOF", "AUTO_RELEASE", "MILESTONE_LOCKED"])
def test_a_time_lock_with_another_release_type_is_refused_on_its_field(seller, release_type):
    terms = EscrowTerms(
        title="Laptop",
        currency="USD",
        amount=50_000,
        settlement_type="STANDARD" if release_type != "MILESTONE_LOCKED" else "MILESTONE",
        release_type=release_type,
        time_lock_until=timezone.now() + timedelta(days=3),
    )
    stages = [] if release_type != "MILESTONE_LOCKED" else TWO_STAGES

    with pytest.raises(InvalidRequest) as refused:
        services.escrow_create(seller=seller, terms=terms, milestones=stages)

    assert (refused.value.message, refused.value.field) == (
        "timeLockUntil applies only with releaseType TIME_LOCKED",
        "timeLockUntil",
    )
    assert not Escrow.objects.exists()


@pytest.mark.parametrize("release_type", ["TIME_LOCKED", "AUTO_RELEASE"])
def test_a_whole_payment_release_type_on_a_milestone_escrow_is_refused_on_its_field(seller, release_type):
    terms = EscrowTerms(
        title="Website",
        currency="USD",
        amount=50_000,
        settlement_type="MILESTONE",
        release_type=release_type,
        time_lock_until=timezone.now() + timedelta(days=3) if release_type == "TIME_LOCKED" else None,
    )

    with pytest.raises(InvalidRequest) as refused:
        services.escrow_create(seller=seller, terms=terms, milestones=TWO_STAGES)

    assert (refused.value.message, refused.value.field) == (
        f"releaseType {release_type} releases the whole payment at once: it has no milestones",
        "releaseType",
    )
    assert not Escrow.objects.exists()


def test_the_release_types_that_release_stage_by_stage_are_kept_on_a_milestone_escrow(seller):
    for release_type in ("MILESTONE_LOCKED", "DELIVERY_PROOF"):
        terms = EscrowTerms(
            title="Website",
            currency="USD",
            amount=50_000,
            settlement_type="MILESTONE",
            release_type=release_type,
        )
        escrow = services.escrow_create(seller=seller, terms=terms, milestones=TWO_STAGES)
        assert escrow.release_type == release_type


def test_an_auto_release_escrow_made_without_the_flag_still_releases_on_the_proof(seller, buyer):
    terms = EscrowTerms(
        title="Laptop", currency="USD", amount=50_000, settlement_type="STANDARD", release_type="AUTO_RELEASE"
    )
    escrow = services.escrow_create(seller=seller, terms=terms, milestones=[])
    assert escrow.auto_release_on_proof is True
    fund(escrow, buyer)
    services.delivery_proof_submit(escrow=escrow, by=seller, proof_hash="ab" * 32, submitted_by="Courier")
    assert refresh(escrow).status == "COMPLETED"
