"""A buyer is charged only the terms they were shown: when the seller changed the escrow since
(an edit, a milestone added), the payment is refused, nothing is charged, and the buyer sees the
new terms. Every way to fund checks it: the payment page (wallet and card) and the provider
API's pay call (by terms version or by the expected amount)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from core.errors import TermsChanged
from escrows import services
from escrows.models import EscrowStatus, Payment
from escrows.services import EscrowTerms, MilestoneInput
from tests.api.conftest import client_for
from tests.helpers import assert_ledger_invariants, ledger_fingerprint, make_escrow, refresh
from tests.reliability import figures

pytestmark = pytest.mark.django_db
SECTION = "money and security defects"


def raise_amount(escrow, seller):
    """The seller edits the unpaid escrow: 300.00 becomes 500.00 USD."""
    return services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=EscrowTerms(title="Website build", currency="USD", amount=50_000),
        milestones=[MilestoneInput(amount=20_000), MilestoneInput(amount=30_000)],
    )


def shown_terms_version(html: str) -> str:
    match = re.search(r'name="terms_version" value="(\d+)"', html)
    assert match, "the payment form posts the terms version it shows"
    return match.group(1)


def test_an_edit_and_an_added_milestone_each_make_new_terms(seller):
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    assert escrow.terms_version == 1
    assert raise_amount(escrow, seller).terms_version == 2
    intent = services.escrow_create(
        seller=seller, terms=EscrowTerms(title="Intent", currency="USD", amount=10_000), milestones=None
    )
    services.milestone_add(escrow=intent, by=seller, index=0, milestone=MilestoneInput(amount=4_000))
    assert refresh(intent).terms_version == intent.terms_version + 1


@pytest.mark.parametrize("source", ["WALLET", "CARD"])
def test_the_service_refuses_a_payment_against_terms_changed_since(seller, buyer, source):
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    shown_version, shown_total = escrow.terms_version, escrow.total_charge
    raise_amount(escrow, seller)
    services.wallet_topup(customer=buyer, amount=100_000, currency="USD")
    before = ledger_fingerprint()
    for shown in ({"terms_version": shown_version}, {"expected_total": shown_total}):
        with pytest.raises(TermsChanged) as refused:
            services.escrow_fund(escrow=escrow, by=buyer, source=source, card_token="tok_visa", **shown)
        assert "nothing was charged" in refused.value.message
        assert "507.50 USD" in refused.value.message  # what it costs now
    assert ledger_fingerprint() == before and not Payment.objects.exists()
    # Paying against the terms as they are now goes through, and records which terms were paid.
    current = refresh(escrow)
    payment = services.escrow_fund(
        escrow=current,
        by=buyer,
        source=source,
        card_token="tok_visa",
        terms_version=current.terms_version,
        expected_total=current.total_charge,
    )
    assert payment.total == 50_750 and payment.terms_version == current.terms_version
    assert_ledger_invariants()


def test_every_way_to_fund_refuses_terms_changed_since_the_buyer_saw_them(seller, buyer):
    attempts = charged = 0

    # The payment page, wallet and card: the form posts the terms version the page showed.
    for source, extra in (("WALLET", {}), ("CARD", {"card_token": "tok_visa"})):
        escrow = make_escrow(seller, parts=(10_000, 20_000))
        services.wallet_topup(customer=buyer, amount=100_000, currency="USD")
        browser = Client()
        browser.force_login(buyer)
        url = reverse("pay", args=[escrow.payment_token])
        version = shown_terms_version(browser.get(url).content.decode())
        raise_amount(escrow, seller)  # while the buyer has the page open
        before = ledger_fingerprint()
        response = browser.post(
            url, {"source": source, "reference": f"web-{source}", "terms_version": version, **extra}
        )
        attempts += 1
        charged += ledger_fingerprint() != before or refresh(escrow).status != EscrowStatus.AWAITING_PAYMENT
        assert response.status_code == 302 and response["Location"] == url
        page = browser.get(url).content.decode()
        assert "changed the terms of this escrow" in page and "nothing was charged" in page
        assert "507.50 USD" in page  # the page now shows the new total
        assert shown_terms_version(page) == str(refresh(escrow).terms_version)

    # The provider API's pay call, by terms version and by the expected amount (as its answer
    # shows amounts: a number, or a decimal string).
    api = client_for(buyer)
    for shown in ({"termsVersion": 1}, {"expectedAmount": 304.5}, {"expectedAmount": "304.50"}):
        escrow = make_escrow(seller, parts=(10_000, 20_000))
        raise_amount(escrow, seller)
        before = ledger_fingerprint()
        response = api.post(
            "/v1/payment/escrow",
            {"gateway": "WALLET", "escrowDetails": {"escrowId": escrow.public_id}, **shown},
            format="json",
        )
        attempts += 1
        charged += ledger_fingerprint() != before
        body = response.json()
        assert response.status_code == 409, body
        assert body["code"] == "terms_changed" and "507.50 USD" in body["message"]

    figures.add(SECTION, "payment against changed terms: attempts", attempts)
    figures.add(SECTION, "violations: charged terms the buyer never saw", charged)
    assert charged == 0
    assert_ledger_invariants()


def test_the_api_pays_when_the_expected_amount_or_version_matches(seller, buyer):
    api = client_for(buyer)
    services.wallet_topup(customer=buyer, amount=100_000, currency="USD")
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    shown = client_for(seller).get(f"/v1/payment-intents/{escrow.public_id}").json()
    assert shown["termsVersion"] == 1
    response = api.post(
        "/v1/payment/escrow",
        {
            "gateway": "WALLET",
            "escrowDetails": {"escrowId": escrow.public_id},
            "termsVersion": shown["termsVersion"],
            "expectedAmount": 304.5,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["data"]["amount"] == 304.5


@pytest.mark.parametrize("bad", [0.1 + 0.2, "abc", True, -1, "1e3", [304.5]])
def test_a_malformed_expected_amount_is_a_clear_400(seller, buyer, bad):
    escrow = make_escrow(seller, parts=(10_000, 20_000))
    response = client_for(buyer).post(
        "/v1/payment/escrow",
        {"gateway": "WALLET", "escrowDetails": {"escrowId": escrow.public_id}, "expectedAmount": bad},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert "expectedAmount" in response.json()["message"]
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
