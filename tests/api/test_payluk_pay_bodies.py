"""POST /v1/payment/escrow takes both of Payluk's bodies: the older one (gateway WALLET/CARD,
transactionType ESCROW) and the newer one (gateway wallet/card, transactionType escrow, amount
required and exactly what the buyer owes, else 400 "Amount mismatch")."""

import pytest

from escrows.models import EscrowStatus
from tests.api.payluk_calls import answer, refusal
from tests.helpers import ledger_fingerprint, make_escrow, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def escrow(seller, buyer):
    from escrows import services

    made = make_escrow(seller, parts=(60_000, 40_000))  # 1,000.00 + 15.00 fee
    services.wallet_topup(customer=buyer, amount=200_000, currency="USD")
    return made


def newer(escrow, **changes):
    return {
        "amount": 1015,
        "reference": "ESC_REF_98765",
        "transactionType": "escrow",
        "gateway": "wallet",
        "escrowDetails": {"escrowId": escrow.public_id},
        **changes,
    }


def test_the_newer_body_pays_with_exactly_what_the_buyer_owes(buyer_api, escrow):
    data = answer(
        buyer_api.post("/v1/payment/escrow", newer(escrow), format="json"), message="Payment successful"
    )
    assert (data["amount"], data["fee"], data["gateway"], data["state"]) == (1015, 15, "WALLET", "OPENED")
    assert refresh(escrow).status == EscrowStatus.OPENED


@pytest.mark.parametrize("amount", [1015, "1015", "1015.00", 1015.0])
def test_the_amount_may_be_a_number_or_a_decimal_string(buyer_api, escrow, amount):
    answer(buyer_api.post("/v1/payment/escrow", newer(escrow, amount=amount), format="json"))


@pytest.mark.parametrize("amount", [1000, 1014, "1015.01", 1016])
def test_any_other_amount_is_an_amount_mismatch_and_nothing_is_charged(buyer_api, escrow, amount):
    before = ledger_fingerprint()
    refusal(
        buyer_api.post("/v1/payment/escrow", newer(escrow, amount=amount), format="json"),
        400,
        "Amount mismatch",
        code="amount_mismatch",
    )
    assert ledger_fingerprint() == before and refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT


def test_the_newer_body_needs_its_amount(buyer_api, escrow):
    body = newer(escrow)
    del body["amount"]
    refusal(buyer_api.post("/v1/payment/escrow", body, format="json"), 400, "amount: This field is required.")
    refusal(
        buyer_api.post("/v1/payment/escrow", {**body, "gateway": "WALLET"}, format="json"),
        400,
        "amount: This field is required.",
    )


def test_the_older_body_still_pays_without_an_amount_and_may_send_one(buyer_api, escrow, seller):
    older = {
        "gateway": "WALLET",
        "transactionType": "ESCROW",
        "escrowDetails": {"escrowId": escrow.public_id},
    }
    answer(buyer_api.post("/v1/payment/escrow", older, format="json"))
    other = make_escrow(seller)
    refusal(
        buyer_api.post(
            "/v1/payment/escrow",
            {**older, "amount": 1, "escrowDetails": {"escrowId": other.public_id}},
            format="json",
        ),
        400,
        "Amount mismatch",
    )


def test_a_card_by_the_newer_body(buyer_api, escrow):
    data = answer(
        buyer_api.post(
            "/v1/payment/escrow", newer(escrow, gateway="card", cardToken="tok_visa"), format="json"
        )
    )
    assert data["gateway"] == "CARD"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"gateway": "Wallet"}, 'gateway: "Wallet" is not a valid choice.'),
        ({"gateway": "paystack"}, 'gateway: "paystack" is not a valid choice.'),
        ({"transactionType": "deposit"}, 'transactionType: "deposit" is not a valid choice.'),
        (
            {"cardId": "card_1"},
            "cardId: Saved cards are not offered by this server: pay with gateway card and cardToken.",
        ),
        ({"expectedAmount": "1015.00"}, "expectedAmount: Send amount or expectedAmount, not both."),
        ({"currency": "EUR"}, "currency must be the escrow's: USD"),
        ({"currency": "ZZZ"}, "Unsupported currency: ZZZ. Supported: "),
        ({"amount": -5}, "amount must be greater than zero"),
        ({"amount": True}, 'amount: Must be a decimal string such as "300.00".'),
        ({"escrowDetails": {"escrowId": ["a", "b"]}}, "escrowDetails.escrowId: Must be a string."),
    ],
)
def test_bad_bodies_are_400(buyer_api, escrow, changes, message):
    r = buyer_api.post("/v1/payment/escrow", newer(escrow, **changes), format="json")
    assert r.status_code == 400, r.json()
    assert r.json()["message"].startswith(message.strip()), r.json()
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT


def test_a_changed_escrow_with_termsversion_is_still_the_terms_check(buyer_api, escrow):
    r = buyer_api.post(
        "/v1/payment/escrow", newer(escrow, amount=1, termsVersion=escrow.terms_version), format="json"
    )
    assert r.status_code == 409 and r.json()["code"] == "terms_changed"
