"""An unpaid escrow whose first stage is already marked delivered (the payment-intents API
records a delivery before funding) can no longer be edited: an edit replaces the whole milestone
set and would drop the delivery and its proof. The service refuses it, the escrow page offers no
edit, the edit page sends the seller back with the reason, and the provider API refuses it too:
all from the one rule, Escrow.edit_refusal."""

import pytest
from django.urls import reverse

from core.errors import InvalidState
from escrows import services
from escrows.models import EscrowStatus, MilestoneStatus
from escrows.permissions import escrow_actions
from escrows.services import EscrowTerms, MilestoneInput
from tests.api.conftest import client_for as api_client_for
from tests.helpers import ledger_fingerprint, make_escrow, milestones, refresh
from tests.views.conftest import client_for

pytestmark = pytest.mark.django_db

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
