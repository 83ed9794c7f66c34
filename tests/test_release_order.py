"""Milestones go in order: a stage may be marked delivered once the one before it is delivered,
and released only once the one before it is released (or otherwise settled). Here the stage
before is delivered but not released yet: delivering the next one is allowed, releasing it is
refused by the buyer's service call, the provider API's confirm route, the escrow page and the
review timer alike."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import InvalidRequest
from escrows import services
from escrows.models import Milestone, MilestoneStatus
from escrows.selectors import wallet_balance
from tests.api.conftest import client_for as api_client_for
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db

NOT_RELEASED = "Previous milestone (index 0) must be released first"


@pytest.fixture
def escrow(seller, buyer):
    """Funded; stage 0 delivered and waiting for the buyer, stage 1 delivered after it."""
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, _ = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller, proof="stage 0")
    services.milestone_complete(milestone=second, by=seller, proof="stage 1")
    assert [m.status for m in milestones(escrow)] == [
        MilestoneStatus.COMPLETED,
        MilestoneStatus.COMPLETED,
        MilestoneStatus.PENDING,
    ]
    return escrow


def test_a_stage_may_be_delivered_once_the_previous_one_is_delivered(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller)
    # Not past a stage that is not delivered ...
    with pytest.raises(InvalidRequest, match=r"Previous milestone \(index 1\) must be completed first"):
        services.milestone_complete(milestone=third, by=seller)
    # ... but a stage delivered and not released yet is enough: the seed's "must be completed
    # first" is about the previous stage's delivery, not its release.
    services.milestone_complete(milestone=second, by=seller)
    services.milestone_complete(milestone=third, by=seller)
    assert [m.status for m in milestones(escrow)] == [MilestoneStatus.COMPLETED] * 3


def test_the_buyer_cannot_release_a_stage_while_the_previous_one_is_only_delivered(escrow, buyer, seller):
    first, second, _ = milestones(escrow)
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest) as refused:
        services.milestone_release(milestone=second, by=buyer)
    assert refused.value.message == NOT_RELEASED
    assert ledger_fingerprint() == before
    # In order, both go through.
    services.milestone_release(milestone=first, by=buyer)
    services.milestone_release(milestone=second, by=buyer)
    assert wallet_balance(seller, "USD") == 80_000
    assert_ledger_invariants()


def test_the_provider_confirm_route_refuses_it(escrow, buyer):
    _, second, _ = milestones(escrow)
    before = ledger_fingerprint()
    r = api_client_for(buyer).post(f"/v1/escrow/milestone/confirm/{escrow.public_id}/{second.public_id}")
    assert r.status_code == 400, r.json()
    assert (r.json()["status"], r.json()["message"], r.json()["data"]) == (400, NOT_RELEASED, None)
    assert ledger_fingerprint() == before


def test_the_escrow_page_offers_only_the_previous_stage_and_refuses_the_next(escrow, buyer):
    first, second, _ = milestones(escrow)
    page = client_for(buyer)
    html = page.get(reverse("escrow_detail", args=[escrow.public_id])).content.decode()
    assert reverse("milestone_release", args=[escrow.public_id, first.public_id]) in html
    assert reverse("milestone_release", args=[escrow.public_id, second.public_id]) not in html
    before = ledger_fingerprint()
    url = reverse("milestone_release", args=[escrow.public_id, second.public_id])
    asked = page.get(url, follow=True).content.decode()
    assert "This stage cannot be released by you right now." in asked
    posted = page.post(url, follow=True).content.decode()
    assert NOT_RELEASED in posted
    assert ledger_fingerprint() == before
    assert refresh(second).status == MilestoneStatus.COMPLETED


def test_the_payment_intents_complete_route_delivers_the_next_stage(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    api = api_client_for(seller)

    def complete(m):
        return api.post(
            f"/v1/payment-intents/{escrow.public_id}/escrow/milestones/{m.public_id}/complete",
            {"completedBy": "0x742d35Cc6634C0532925a3b844Bc9e7595f42318"},
            format="json",
        )

    assert complete(first).status_code == 200
    r = complete(second)
    assert r.status_code == 200, r.json()
    assert (r.json()["object"], r.json()["status"]) == ("milestone", "completed")
    assert refresh(first).status == MilestoneStatus.COMPLETED  # delivering never releases here
    r = api.post(
        f"/v1/payment-intents/{escrow.public_id}/escrow/milestones/{third.public_id}/complete",
        {"completedBy": "0x742d35Cc6634C0532925a3b844Bc9e7595f42318"},
        format="json",
    )
    assert r.status_code == 200  # stage 1 is delivered too: stage 2 may follow


def test_the_review_timer_does_not_release_a_stage_before_the_previous_one(escrow):
    first, second, _ = milestones(escrow)
    # Both reviews lapsed; the timer may meet the later stage first.
    Milestone.objects.filter(pk__in=[first.pk, second.pk]).update(
        review_deadline=timezone.now() - timedelta(minutes=1)
    )
    before = ledger_fingerprint()
    assert services.milestone_auto_release(milestone=second) is None
    assert ledger_fingerprint() == before
    assert services.milestone_auto_release(milestone=first) is not None
    assert services.milestone_auto_release(milestone=second) is not None
    assert [m.status for m in milestones(escrow)][:2] == [MilestoneStatus.RELEASED] * 2
    assert_ledger_invariants()
