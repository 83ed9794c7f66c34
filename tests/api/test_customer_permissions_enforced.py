"""What a platform lets its customer do holds on every surface, because the services refuse it:
a customer who may not buy cannot pay an escrow (Payluk's pay call, the payment page), one who
may not sell cannot create one (Payluk's create, Finternet's payment intent, the create page),
and a blocked customer does nothing at all: no API call as them, no sign-in, no session, no
action on an escrow, while the other party still acts and their money stays where it is."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from core.errors import Forbidden
from escrows import services
from escrows.models import Escrow, EscrowStatus, MilestoneStatus
from escrows.selectors import wallet_balance
from tests.api.conftest import client_for
from tests.api.payluk_calls import answer, customer, refusal
from tests.helpers import fund, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db

MAY_NOT_BUY = "This customer may not buy"
MAY_NOT_SELL = "This customer may not sell"
BLOCKED = "This customer is blocked"
MILESTONE_ESCROW = {
    "amount": 1000,
    "purpose": "Website build",
    "whoPays": "buyer",
    "maxDelivery": 14,
    "deliveryTimeline": "days",
    "milestones": [{"title": "Design", "amount": 300}, {"title": "Build", "amount": 700}],
}


@pytest.fixture
def ada(platform):
    """A customer of the platform with money in her wallet."""
    made = customer(platform, "ada@example.test", first_name="Ada")
    services.wallet_topup(customer=made, amount=500_000, currency="USD")
    return made


def as_customer(platform, person):
    return client_for(platform, customer_id=person.customer_id)


def pay_body(escrow):
    return {"gateway": "WALLET", "transactionType": "ESCROW", "escrowDetails": {"escrowId": escrow.public_id}}


def restrict(platform, person, **permissions):
    r = client_for(platform).put(f"/v1/customer/permissions/{person.customer_id}", permissions, format="json")
    answer(r)


def block(platform, person):
    answer(client_for(platform).put(f"/v1/customer/block/{person.customer_id}"))


# -- buying ----------------------------------------------------------------------------------


def test_a_customer_who_may_not_buy_cannot_pay_through_the_api(platform, ada, seller):
    escrow = make_escrow(seller)
    restrict(platform, ada, canBuy=False)
    before = ledger_fingerprint()
    for gateway in ("WALLET", "CARD"):
        r = as_customer(platform, ada).post(
            "/v1/payment/escrow",
            {**pay_body(escrow), "gateway": gateway, "cardToken": "tok_visa"},
            format="json",
        )
        refusal(r, 403, MAY_NOT_BUY, code="buying_not_allowed")
    assert ledger_fingerprint() == before and refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT
    restrict(platform, ada, canBuy=True)
    answer(as_customer(platform, ada).post("/v1/payment/escrow", pay_body(escrow), format="json"))
    assert refresh(escrow).status == EscrowStatus.OPENED


def test_a_customer_who_may_not_buy_cannot_pay_on_the_payment_page(platform, ada, seller):
    escrow = make_escrow(seller)
    restrict(platform, ada, canBuy=False)
    page = Client()
    page.force_login(ada)
    r = page.post(reverse("pay", args=[escrow.payment_token]), {"source": "WALLET"}, follow=True)
    assert (
        "Your account may not pay for escrows: the platform that manages it turned buying off. "
        "Ask them to turn it back on." in r.content.decode()
    )
    assert refresh(escrow).status == EscrowStatus.AWAITING_PAYMENT


def test_a_customer_who_may_not_buy_may_still_sell(platform, ada):
    restrict(platform, ada, canBuy=False)
    data = answer(
        as_customer(platform, ada).post("/v1/escrow/milestone/create", MILESTONE_ESCROW, format="json"), 201
    )
    assert Escrow.objects.get(public_id=data["id"]).seller == ada


# -- selling ---------------------------------------------------------------------------------


def test_a_customer_who_may_not_sell_cannot_create_an_escrow_on_either_api(platform, ada):
    restrict(platform, ada, canSell=False)
    refusal(
        as_customer(platform, ada).post("/v1/escrow/milestone/create", MILESTONE_ESCROW, format="json"),
        403,
        MAY_NOT_SELL,
        code="selling_not_allowed",
    )
    r = as_customer(platform, ada).post(
        "/v1/payment-intents", {"amount": "100.00", "currency": "USD"}, format="json"
    )
    assert r.status_code == 403
    assert r.json()["error"] == {
        "code": "selling_not_allowed",
        "message": MAY_NOT_SELL,
        "type": "invalid_request_error",
    }
    assert not Escrow.objects.exists()


def test_a_customer_who_may_not_sell_cannot_create_an_escrow_on_the_create_page(platform, ada):
    restrict(platform, ada, canSell=False)
    page = Client()
    page.force_login(ada)
    r = page.post(
        reverse("escrow_new"),
        {
            "title": "Logo design",
            "currency": "USD",
            "amount": "300.00",
            "form-TOTAL_FORMS": "2",
            "form-INITIAL_FORMS": "0",
            "form-0-amount": "100.00",
            "form-1-amount": "200.00",
        },
    )
    assert (
        "Your account may not create escrows: the platform that manages it turned selling off. "
        "Ask them to turn it back on."
    ) in (r.content.decode())
    assert not Escrow.objects.exists()


def test_a_customer_who_may_not_sell_may_still_buy(platform, ada, seller):
    restrict(platform, ada, canSell=False)
    escrow = make_escrow(seller)
    answer(as_customer(platform, ada).post("/v1/payment/escrow", pay_body(escrow), format="json"))
    assert refresh(escrow).buyer == ada


# -- blocked ---------------------------------------------------------------------------------


def test_no_api_call_acts_for_a_blocked_customer_until_unblocked(platform, ada):
    block(platform, ada)
    refusal(as_customer(platform, ada).get("/v1/wallet"), 403, BLOCKED, code="customer_blocked")
    refusal(as_customer(platform, ada).get("/v1/escrow/list"), 403, BLOCKED)
    r = as_customer(platform, ada).post(
        "/v1/payment-intents", {"amount": "100.00", "currency": "USD"}, format="json"
    )
    assert r.status_code == 403 and r.json()["error"]["message"] == BLOCKED
    assert r.json()["error"]["code"] == "customer_blocked"
    # The platform itself still manages its customers (and reads the one it blocked).
    assert answer(client_for(platform).get(f"/v1/customer/get/{ada.customer_id}"))["status"] == "blocked"
    answer(client_for(platform).put(f"/v1/customer/unblock/{ada.customer_id}"))
    answer(as_customer(platform, ada).get("/v1/wallet"))


def test_a_blocked_customers_own_key_is_refused(platform, ada):
    own_key = client_for(ada)
    answer(own_key.get("/v1/wallet"))
    block(platform, ada)
    refusal(own_key.get("/v1/wallet"), 403, BLOCKED)


def test_a_blocked_customer_cannot_sign_in_and_their_session_ends(platform, ada):
    ada.set_password("pass-word-123")
    ada.save()
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=ada, email=ada.email, primary=True, verified=True)
    session = Client()
    session.force_login(ada)
    assert session.get(reverse("dashboard")).status_code == 200
    block(platform, ada)
    gone = session.get(reverse("dashboard"))
    assert gone.status_code == 302 and gone["Location"].startswith(reverse("login"))
    refused = Client().post(reverse("login"), {"login": ada.email, "password": "pass-word-123"})
    assert "Your account is blocked by the platform that manages it. Ask them to unblock it." in (
        refused.content.decode()
    )
    # A wrong password says nothing about the block.
    wrong = Client().post(reverse("login"), {"login": ada.email, "password": "not-her-password"})
    assert "blocked" not in wrong.content.decode() and "_auth_user_id" not in wrong.wsgi_request.session
    answer(client_for(platform).put(f"/v1/customer/unblock/{ada.customer_id}"))
    signed_in = Client()
    assert (
        signed_in.post(reverse("login"), {"login": ada.email, "password": "pass-word-123"}).status_code == 302
    )
    assert signed_in.get(reverse("dashboard")).status_code == 200


def test_the_services_refuse_every_action_of_a_blocked_customer(platform, ada, seller, buyer):
    bought = make_escrow(seller)
    fund(bought, ada)
    first = milestones(bought)[0]
    services.milestone_complete(milestone=first, by=seller, proof="done")
    sold = services.escrow_create(
        seller=ada,
        terms=services.EscrowTerms(title="Logo", currency="USD", amount=20_000),
        milestones=[services.MilestoneInput(amount=10_000), services.MilestoneInput(amount=10_000)],
    )
    unpaid = make_escrow(seller)
    block(platform, ada)
    ada.refresh_from_db()
    before = ledger_fingerprint()
    refused = [
        lambda: services.milestone_release(milestone=first, by=ada),
        lambda: services.dispute_open(escrow=bought, by=ada, milestone=first, reason="Not as agreed"),
        lambda: services.escrow_cancel(escrow=sold, by=ada),
        lambda: services.escrow_fund(escrow=unpaid, by=ada),
        lambda: services.escrow_create(
            seller=ada,
            terms=services.EscrowTerms(title="More", currency="USD", amount=20_000),
            milestones=[services.MilestoneInput(amount=10_000), services.MilestoneInput(amount=10_000)],
        ),
        lambda: services.wallet_topup(customer=ada, amount=100, currency="USD"),
        lambda: services.wallet_withdraw(customer=ada, amount=100, currency="USD", destination="acct_1"),
    ]
    for action in refused:
        with pytest.raises(Forbidden) as refusal_:
            action()
        assert refusal_.value.message == BLOCKED and refusal_.value.code == "customer_blocked"
        assert (
            refusal_.value.for_person
            == "Your account is blocked by the platform that manages it. Ask them to unblock it."
        )
    assert ledger_fingerprint() == before
    # The other party still acts on their escrows, and money still reaches a blocked seller.
    fund(sold, buyer)
    done = services.milestone_release(milestone=milestones(sold)[0], by=buyer)
    assert done.status == MilestoneStatus.RELEASED
    assert wallet_balance(User.objects.get(pk=ada.pk), "USD") == 500_000 + 10_000
