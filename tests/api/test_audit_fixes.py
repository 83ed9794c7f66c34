"""Inputs an audit found reaching a 500, and Finternet's documented message after the escrow closed."""

import pytest

from escrows import services
from escrows.models import Escrow, EscrowStatus, Payment
from tests.api.conftest import client_for
from tests.api.test_errors import intent_error, provider_error
from tests.api.test_provider import assert_envelope_error, pay
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("release_type", [[], {}, 5, True, ["MILESTONE_LOCKED"]])
def test_release_type_of_any_json_type_is_a_400(seller, release_type):
    api = client_for(seller)
    r = api.post(
        "/v1/payment-intents",
        {"amount": "100.00", "currency": "USD", "metadata": {"releaseType": release_type}},
        format="json",
    )
    error = intent_error(r, 400)
    assert "releaseType" in error["message"]
    assert not Escrow.objects.exists()


@pytest.mark.parametrize("limit", ["²", "٣", "1²", "0", "-1", "1e2"])
def test_list_limit_that_is_not_an_ascii_number_is_a_400(seller, limit):
    r = client_for(seller).get("/v1/escrow/list", {"limit": limit})
    assert "limit" in provider_error(r, 400)["message"]


def test_a_reference_shaped_like_another_escrows_default_does_not_block_it(seller, buyer):
    first = make_escrow(seller, buyer=buyer)
    second = make_escrow(seller, buyer=buyer)
    api = client_for(buyer)
    services.wallet_topup(customer=buyer, amount=first.total_charge + second.total_charge, currency="USD")
    assert pay(api, second.public_id, reference=f"fund_{first.public_id}").status_code == 200
    r = pay(api, first.public_id, reference=None)
    assert r.status_code == 200, r.json()
    payment = Payment.objects.get(escrow=first)
    assert payment.reference == payment.public_id
    assert refresh(first).status == EscrowStatus.OPENED


def test_confirming_a_released_milestone_of_a_closed_escrow_says_already_released(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer, parts=(30_000, 70_000))
    fund(escrow, buyer)
    api = client_for(buyer)
    for m in milestones(escrow):
        assert api.post(f"/v1/escrow/milestone/confirm/{escrow.public_id}/{m.public_id}").status_code == 200
    assert refresh(escrow).status == EscrowStatus.COMPLETED
    before = ledger_fingerprint()
    last = milestones(escrow)[-1]
    r = api.post(f"/v1/escrow/milestone/confirm/{escrow.public_id}/{last.public_id}")
    assert_envelope_error(r, 400, "Milestone already released")
    assert ledger_fingerprint() == before
