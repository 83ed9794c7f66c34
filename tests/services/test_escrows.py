"""Creating and editing an escrow: the fee and ids, every refused set of terms or milestones,
who may edit, and the edit refused once paid or once a stage is delivered."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest, InvalidState, NotFound
from escrows import services
from escrows.models import Escrow, EscrowStatus, Event, MilestoneStatus, SettlementType
from escrows.permissions import escrow_actions
from escrows.services import EscrowTerms, MilestoneInput
from tests.api.conftest import client_for as api_client_for
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db


def test_create_milestone_escrow_computes_fee_and_ids(seller):
    escrow = make_escrow(seller, parts=(30_000, 50_000, 20_000))
    assert escrow.status == EscrowStatus.AWAITING_PAYMENT
    assert escrow.amount == 100_000
    # 1.5% of 1000.00 USD = 15.00
    assert escrow.fee == 1_500
    assert escrow.fee_schedule_version
    assert escrow.public_id.startswith("intent_")
    assert escrow.payment_token != escrow.public_id and len(escrow.payment_token) > 30
    ms = milestones(escrow)
    assert [m.index for m in ms] == [0, 1, 2]
    assert [m.amount for m in ms] == [30_000, 50_000, 20_000]
    assert Event.objects.filter(escrow=escrow, kind="escrow.created").count() == 1
    assert_ledger_invariants()


def test_fee_is_clamped_to_minimum_and_maximum(seller):
    small = make_escrow(seller, parts=(100, 100))  # 2.00 USD -> 1.5% is 3 cents, min 1.00
    assert small.fee == 100
    huge = make_escrow(seller, parts=(500_000_00, 500_000_00))  # 1M USD, the most -> max 1000.00
    assert huge.fee == 1000_00


@pytest.mark.parametrize(
    "parts, message",
    [
        ((100_000,), "at least 2 milestones"),
        ((50_000, 0), "greater than zero"),
        ((50_000, -1), "greater than zero"),
    ],
)
def test_create_refuses_bad_milestone_sets(seller, parts, message):
    with pytest.raises(InvalidRequest, match=message):
        services.escrow_create(
            seller=seller,
            terms=EscrowTerms(title="x", currency="USD", amount=100_000),
            milestones=[MilestoneInput(amount=p) for p in parts],
        )
    assert Escrow.objects.count() == 0


def test_create_refuses_milestones_not_summing_to_amount(seller):
    with pytest.raises(InvalidRequest, match="must sum to the escrow amount"):
        services.escrow_create(
            seller=seller,
            terms=EscrowTerms(title="x", currency="USD", amount=100_000),
            milestones=[MilestoneInput(amount=30_000), MilestoneInput(amount=30_000)],
        )
    assert Escrow.objects.count() == 0


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"who_pays": "seller"}, "whoPays must be buyer"),
        ({"currency": "XXX"}, "Unsupported currency"),
        ({"title": "  "}, "title is required"),
        ({"settlement_method": "CARRIER_PIGEON"}, "settlementMethod must be"),
        ({"settlement_method": "OFF_RAMP_MOCK"}, "settlementDestination is required"),
        ({"buyer_email": "SELLER@example.test"}, "buyer cannot be the seller"),
    ],
)
def test_create_refuses_bad_terms(seller, overrides, message):
    terms = {"title": "x", "currency": "USD", "amount": 100_000, **overrides}
    with pytest.raises(InvalidRequest, match=message):
        services.escrow_create(
            seller=seller,
            terms=EscrowTerms(**terms),
            milestones=[MilestoneInput(amount=50_000), MilestoneInput(amount=50_000)],
        )
    assert Escrow.objects.count() == 0


def test_due_date_must_be_in_the_future(seller):
    with pytest.raises(InvalidRequest, match="dueDate must be in the future"):
        services.escrow_create(
            seller=seller,
            terms=EscrowTerms(title="x", currency="USD", amount=100_000),
            milestones=[
                MilestoneInput(amount=50_000, due_date=timezone.now() - timedelta(days=1)),
                MilestoneInput(amount=50_000),
            ],
        )


def test_standard_escrow_has_no_milestones(seller):
    escrow = services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="Laptop",
            currency="USD",
            amount=80_000,
            settlement_type=SettlementType.STANDARD,
            release_type="DELIVERY_PROOF",
        ),
        milestones=[],
    )
    assert escrow.milestones.count() == 0
    with pytest.raises(InvalidRequest, match="standard escrow has no milestones"):
        services.escrow_create(
            seller=seller,
            terms=EscrowTerms(title="x", currency="USD", amount=100, settlement_type=SettlementType.STANDARD),
            milestones=[MilestoneInput(amount=50), MilestoneInput(amount=50)],
        )


def test_buyer_cannot_be_seller(seller):
    with pytest.raises(InvalidRequest, match="buyer cannot be the seller"):
        make_escrow(seller, buyer=seller)


def _edit(escrow, by, parts=(60_000, 60_000, 80_000), **terms):
    terms = {"title": "Bigger build", "currency": "USD", "amount": sum(parts), **terms}
    return services.escrow_edit(
        escrow=escrow,
        by=by,
        terms=EscrowTerms(**terms),
        milestones=[MilestoneInput(amount=p) for p in parts],
    )


def test_seller_edit_replaces_milestones_and_recomputes_fee(seller):
    escrow = make_escrow(seller)
    old_ids = {m.public_id for m in milestones(escrow)}
    _edit(escrow, seller)
    escrow = refresh(escrow)
    assert escrow.title == "Bigger build"
    assert escrow.amount == 200_000
    assert escrow.fee == 3_000
    new = milestones(escrow)
    assert [m.amount for m in new] == [60_000, 60_000, 80_000]
    assert old_ids.isdisjoint({m.public_id for m in new})
    assert Event.objects.filter(escrow=escrow, kind="escrow.edited").count() == 1


def test_buyer_cannot_edit(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    before = ledger_fingerprint()
    with pytest.raises(Forbidden):
        _edit(escrow, buyer)
    assert ledger_fingerprint() == before


def test_stranger_gets_not_found(seller, stranger):
    escrow = make_escrow(seller)
    with pytest.raises(NotFound):
        _edit(escrow, stranger)


def test_edit_refused_after_funding(seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState, match="only be edited while it is awaiting payment"):
        _edit(escrow, seller)
    assert ledger_fingerprint() == before


def test_edit_applies_same_rules_as_create(seller):
    escrow = make_escrow(seller)
    with pytest.raises(InvalidRequest, match="must sum"):
        services.escrow_edit(
            escrow=escrow,
            by=seller,
            terms=EscrowTerms(title="x", currency="USD", amount=100_000),
            milestones=[MilestoneInput(amount=10), MilestoneInput(amount=10)],
        )
    assert refresh(escrow).title == "Website build"
    assert len(milestones(escrow)) == 3


# An unpaid escrow whose first stage is already marked delivered (the payment-intents API
# records a delivery before funding) can no longer be edited: an edit replaces the whole milestone
# set and would drop the delivery and its proof. The service refuses it, the escrow page offers no
# edit, the edit page sends the seller back with the reason, and the provider API refuses it too:
# all from the one rule, Escrow.edit_refusal.


DELIVERED = "A milestone has already been marked delivered; the escrow can no longer be edited"


@pytest.fixture
def escrow(seller, buyer):
    return make_escrow(seller, buyer=buyer)


def deliver_first(escrow, seller):
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="mockups.pdf")
    assert refresh(first).status == MilestoneStatus.COMPLETED
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT


def edit(escrow, seller):
    return services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=EscrowTerms(title="Changed", currency="USD", amount=100_000),
        milestones=[MilestoneInput(amount=50_000), MilestoneInput(amount=50_000)],
    )


def test_the_rule_allows_an_untouched_unpaid_escrow_and_refuses_after_a_delivery(escrow, seller):
    assert escrow.is_editable(milestones(escrow))
    assert escrow_actions(escrow, milestones(escrow), seller).can_edit
    deliver_first(escrow, seller)
    escrow = refresh(escrow)
    assert escrow.edit_refusal(milestones(escrow)) == DELIVERED
    assert not escrow.is_editable(milestones(escrow))
    assert not escrow_actions(escrow, milestones(escrow), seller).can_edit


def test_the_service_refuses_the_edit_and_changes_nothing(escrow, seller):
    deliver_first(escrow, seller)
    before = ledger_fingerprint()
    with pytest.raises(InvalidState) as refused:
        edit(escrow, seller)
    assert refused.value.message == DELIVERED
    assert ledger_fingerprint() == before
    assert refresh(escrow).title == "Website build"
    assert refresh(milestones(escrow)[0]).completion_proof == "mockups.pdf"


def test_the_escrow_page_offers_no_edit_after_a_delivery(escrow, seller):
    page = client_for(seller)
    detail = reverse("escrow_detail", args=[escrow.public_id])
    assert 'data-action="edit"' in page.get(detail).content.decode()
    deliver_first(escrow, seller)
    html = page.get(detail).content.decode()
    assert 'data-action="edit"' not in html
    assert 'data-action="cancel"' in html  # the seller may still cancel the unpaid escrow


def test_the_edit_page_sends_the_seller_back_with_the_reason(escrow, seller):
    deliver_first(escrow, seller)
    page = client_for(seller)
    url = reverse("escrow_edit", args=[escrow.public_id])
    before = ledger_fingerprint()
    response = page.get(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("escrow_detail", args=[escrow.public_id])
    assert DELIVERED in response.content.decode()
    response = page.post(
        url,
        {
            "title": "Changed",
            "currency": "USD",
            "amount": "1000.00",
            "form-TOTAL_FORMS": "2",
            "form-INITIAL_FORMS": "0",
            "form-0-amount": "500.00",
            "form-1-amount": "500.00",
        },
        follow=True,
    )
    assert DELIVERED in response.content.decode()
    assert ledger_fingerprint() == before
    assert refresh(escrow).title == "Website build"


def test_the_provider_api_refuses_the_edit(escrow, seller):
    deliver_first(escrow, seller)
    before = ledger_fingerprint()
    r = api_client_for(seller).put(
        f"/v1/escrow/milestone/edit/{escrow.payment_token}",
        {
            "amount": 1000,
            "purpose": "Changed",
            "description": "",
            "whoPays": "buyer",
            "milestones": [{"title": "A", "amount": 500}, {"title": "B", "amount": 500}],
        },
        format="json",
    )
    assert r.status_code == 400, r.json()
    assert r.json()["message"] == DELIVERED
    assert ledger_fingerprint() == before
