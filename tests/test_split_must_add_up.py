"""A split of money between buyer and seller must add up to exactly what is being split: a
dispute's resolution (and the default outcome chosen when it is opened) to the disputed amount, a
mutual cancellation to what the escrow holds. One minor unit more or less is refused with
code split_mismatch and changes nothing, through the service, the API and the pages; the exact
split goes through."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.errors import InvalidRequest, InvalidState
from escrows import services
from escrows.models import CancellationProposal, Dispute, DisputeStatus, MilestoneStatus
from escrows.money import format_money
from escrows.selectors import wallet_balance
from tests.api.conftest import client_for as api_client_for
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db

DISPUTED = 50_000  # stage 1 of the default escrow: 500.00 USD
HELD = 100_000  # all three stages: 1,000.00 USD
OFF_BY_ONE = [pytest.param(+1, id="one-more"), pytest.param(-1, id="one-less")]


@pytest.fixture
def escrow(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    return escrow


@pytest.fixture
def dispute(escrow, buyer):
    return services.dispute_open(escrow=escrow, milestone=milestones(escrow)[1], by=buyer, reason="Broken")


def staff_api(admin_user):
    api = APIClient()
    api.force_login(admin_user)
    return api


def assert_unresolved(dispute, before):
    assert ledger_fingerprint() == before
    assert refresh(dispute).status == DisputeStatus.OPEN
    assert refresh(milestones(dispute.escrow)[1]).status == MilestoneStatus.DISPUTED


# -- resolving a dispute ----------------------------------------------------------------------


@pytest.mark.parametrize("off", OFF_BY_ONE)
def test_the_service_refuses_a_resolution_off_by_one(dispute, admin_user, off):
    before = ledger_fingerprint()
    for seller_amount, buyer_amount in ((30_000 + off, 20_000), (30_000, 20_000 + off)):
        with pytest.raises(InvalidRequest) as refused:
            services.dispute_resolve(
                dispute=dispute,
                by=admin_user,
                outcome="split",
                seller_amount=seller_amount,
                buyer_amount=buyer_amount,
            )
        assert refused.value.code == "split_mismatch"
        total = format_money(DISPUTED + off, "USD")
        assert refused.value.message.startswith("The split must add up to the disputed amount, 500.00 USD: ")
        assert refused.value.message.endswith(f" is {total}")
        with pytest.raises(InvalidRequest) as previewed:
            services.dispute_resolution_amounts(
                dispute, outcome="split", seller_amount=seller_amount, buyer_amount=buyer_amount
            )
        assert previewed.value.code == "split_mismatch"
    assert_unresolved(dispute, before)


def test_the_service_resolves_an_exact_split(dispute, admin_user, seller, buyer):
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=30_001, buyer_amount=19_999
    )
    assert refresh(dispute).status == DisputeStatus.RESOLVED
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (30_001, 19_999)
    assert_ledger_invariants()


@pytest.mark.parametrize(("seller_amount", "off"), [("300.01", 1), ("299.99", -1)])
def test_the_api_refuses_a_resolution_off_by_one(escrow, dispute, admin_user, seller_amount, off):
    before = ledger_fingerprint()
    r = staff_api(admin_user).post(
        f"/v1/escrows/{escrow.public_id}/disputes/{dispute.public_id}/resolve",
        {"outcome": "split", "sellerAmount": seller_amount, "buyerAmount": "200.00"},
        format="json",
    )
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["code"] == "split_mismatch"
    assert r.json()["error"]["message"].endswith(f" is {format_money(DISPUTED + off, 'USD')}")
    assert_unresolved(dispute, before)


def test_the_api_resolves_an_exact_split(escrow, dispute, admin_user):
    r = staff_api(admin_user).post(
        f"/v1/escrows/{escrow.public_id}/disputes/{dispute.public_id}/resolve",
        {"outcome": "split", "sellerAmount": "300.01", "buyerAmount": "199.99"},
        format="json",
    )
    assert r.status_code == 200, r.json()
    res = r.json()["resolution"]
    assert (res["sellerAmount"], res["buyerAmount"]) == ("300.01", "199.99")
    assert_ledger_invariants()


@pytest.mark.parametrize("seller_amount", ["300.01", "299.99"])
@pytest.mark.parametrize("confirmed", [False, True], ids=["asking", "confirmed"])
def test_the_staff_page_refuses_a_resolution_off_by_one(
    escrow, dispute, admin_user, seller_amount, confirmed
):
    before = ledger_fingerprint()
    form = {"outcome": "split", "seller_amount": seller_amount, "buyer_amount": "200.00"}
    if confirmed:
        form["confirmed"] = "1"  # a confirmation posted with other amounts than were shown
    response = client_for(admin_user).post(
        reverse("dispute_resolve", args=[escrow.public_id, dispute.public_id]), form
    )
    assert response.status_code == 400
    assert "The split must add up to the disputed amount" in response.content.decode()
    assert_unresolved(dispute, before)


def test_the_staff_page_resolves_an_exact_split(escrow, dispute, admin_user, seller, buyer):
    response = client_for(admin_user).post(
        reverse("dispute_resolve", args=[escrow.public_id, dispute.public_id]),
        {"outcome": "split", "seller_amount": "300.01", "buyer_amount": "199.99", "confirmed": "1"},
    )
    assert response.status_code == 302
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (30_001, 19_999)
    assert_ledger_invariants()


# -- the default outcome chosen when a dispute is opened ---------------------------------------


@pytest.mark.parametrize("off", OFF_BY_ONE)
def test_a_default_split_off_by_one_is_refused_when_opening(escrow, buyer, off):
    before = ledger_fingerprint()
    with pytest.raises(InvalidRequest) as refused:
        services.dispute_open(
            escrow=escrow,
            milestone=milestones(escrow)[1],
            by=buyer,
            reason="Broken",
            default_outcome="split",
            default_seller_amount=30_000 + off,
            default_buyer_amount=20_000,
        )
    assert refused.value.code == "split_mismatch"
    r = api_client_for(buyer).post(
        f"/v1/escrows/{escrow.public_id}/disputes",
        {
            "milestoneId": milestones(escrow)[1].public_id,
            "reason": "Broken",
            "defaultOutcome": "split",
            "defaultSellerAmount": "300.01" if off > 0 else "299.99",
            "defaultBuyerAmount": "200.00",
        },
        format="json",
    )
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["code"] == "split_mismatch"
    assert ledger_fingerprint() == before
    assert not Dispute.objects.exists()


def test_an_exact_default_split_is_recorded(escrow, buyer):
    dispute = services.dispute_open(
        escrow=escrow,
        milestone=milestones(escrow)[1],
        by=buyer,
        reason="Broken",
        default_outcome="split",
        default_seller_amount=30_001,
        default_buyer_amount=19_999,
    )
    assert (dispute.default_seller_amount, dispute.default_buyer_amount) == (30_001, 19_999)


# -- mutual cancellation ---------------------------------------------------------------------


@pytest.mark.parametrize("off", OFF_BY_ONE)
def test_a_cancellation_split_off_by_one_is_refused(escrow, buyer, off):
    before = ledger_fingerprint()
    for buyer_amount, seller_amount in ((60_000 + off, 40_000), (60_000, 40_000 + off)):
        with pytest.raises(InvalidRequest) as refused:
            services.cancellation_propose(
                escrow=escrow, by=buyer, buyer_amount=buyer_amount, seller_amount=seller_amount
            )
        assert refused.value.code == "split_mismatch"
        assert refused.value.message.startswith("The split must add up to what is held, 1,000.00 USD")
    r = api_client_for(buyer).post(
        f"/v1/escrows/{escrow.public_id}/cancellation-proposals",
        {"buyerAmount": "600.01" if off > 0 else "599.99", "sellerAmount": "400.00"},
        format="json",
    )
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["code"] == "split_mismatch"
    page = client_for(buyer).post(
        reverse("cancellation_new", args=[escrow.public_id]),
        {"buyer_amount": "600.01" if off > 0 else "599.99", "seller_amount": "400.00"},
    )
    assert "The split must add up to what is held" in page.content.decode()
    assert ledger_fingerprint() == before
    assert not CancellationProposal.objects.exists()


def test_an_exact_cancellation_split_is_proposed_and_paid(escrow, buyer, seller):
    proposal = services.cancellation_propose(
        escrow=escrow, by=buyer, buyer_amount=60_001, seller_amount=39_999
    )
    services.cancellation_accept(proposal=proposal, by=seller)
    assert (wallet_balance(seller, "USD"), wallet_balance(buyer, "USD")) == (39_999, 60_001)
    assert_ledger_invariants()


def test_a_cancellation_split_must_match_what_is_held_after_a_release(escrow, buyer, seller):
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    held = HELD - 30_000
    with pytest.raises(InvalidRequest) as refused:
        services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=HELD, seller_amount=0)
    assert refused.value.code == "split_mismatch"
    services.cancellation_propose(escrow=escrow, by=buyer, buyer_amount=held, seller_amount=0)


def test_a_proposal_that_no_longer_matches_what_is_held_cannot_be_accepted(escrow, buyer, seller):
    proposal = services.cancellation_propose(
        escrow=escrow, by=buyer, buyer_amount=60_000, seller_amount=40_000
    )
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as refused:
        services.cancellation_accept(proposal=proposal, by=seller)
    assert refused.value.code == "cancellation_stale"
    assert ledger_fingerprint() == before
