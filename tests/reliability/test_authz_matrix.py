"""Authorization matrix: every object-level API endpoint and every escrow page, tried by the
owner (seller), the counterparty (buyer), a stranger, another platform's key acting for the
owner, the owner's revoked key and no key at all. Strangers and the other platform always get a
404 (never a 403 that reveals the object); a refused attempt changes nothing. Each cell runs on
a fresh escrow so an earlier success cannot hide a later one."""

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import api_key_create, api_key_revoke, customer_create_for_platform
from escrows import services
from escrows.models import Escrow
from escrows.services import EscrowTerms, MilestoneInput
from tests.factories import UserFactory
from tests.helpers import fund, ledger_fingerprint, milestones
from tests.reliability import figures
from webhooks import services as webhook_services

SECTION = "authorization matrix"
PRINCIPALS = ("owner", "counterparty", "stranger", "other platform", "revoked key", "no key")
# Who may do what is checked per endpoint below; these two never may, and must learn nothing.
OUTSIDERS = {"stranger": 404, "other platform": 404}


@dataclass
class World:
    seller: object
    buyer: object
    stranger: object
    platform: object
    other_platform: object
    escrow: Escrow
    keys: dict[str, str]
    dispute: str = ""  # "<escrow id>/disputes/<dispute id>", when the endpoint needs one


def _world(*, funded: bool, intents: bool = False, delivered: bool = False) -> World:
    platform = UserFactory(is_platform=True)
    other_platform = UserFactory(is_platform=True)
    seller = UserFactory()
    # The buyer is a customer of the platform: the counterparty calls through the platform key.
    buyer = customer_create_for_platform(platform=platform, email=f"buyer-{platform.pk}@example.test")
    stranger = UserFactory()
    parts = (30_000, 70_000)
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Matrix", currency="USD", amount=sum(parts)),
        milestones=None
        if intents
        else [MilestoneInput(amount=p, title=f"Stage {i}") for i, p in enumerate(parts)],
    )
    if funded:
        fund(escrow, buyer)
        if delivered:
            services.milestone_complete(milestone=milestones(escrow)[0], by=seller, proof="done")
    else:
        services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency="USD")
    _, revoked = api_key_create(user=seller)
    api_key_revoke(user=seller, prefix=revoked.split(".")[0])
    keys = {
        "owner": api_key_create(user=seller)[1],
        "counterparty": api_key_create(user=platform)[1],
        "stranger": api_key_create(user=stranger)[1],
        "other platform": api_key_create(user=other_platform)[1],
        "revoked key": revoked,
    }
    return World(seller, buyer, stranger, platform, other_platform, escrow, keys)


def _api_client(world: World, principal: str) -> APIClient:
    client = APIClient()
    headers = {}
    if principal != "no key":
        headers["HTTP_X_API_KEY"] = world.keys[principal]
    if principal == "counterparty":
        headers["HTTP_CUSTOMER_ID"] = world.buyer.customer_id
    if principal == "other platform":
        headers["HTTP_CUSTOMER_ID"] = world.seller.customer_id
    client.credentials(**headers)
    return client


def _page_client(world: World, principal: str) -> Client:
    client = Client()
    user = {"owner": world.seller, "counterparty": world.buyer, "stranger": world.stranger}.get(principal)
    if user is not None:
        client.force_login(user)
    elif principal != "no key":
        # Keys mean nothing to pages: the request is anonymous however it is dressed.
        client.defaults["HTTP_X_API_KEY"] = world.keys[principal]
    return client


@dataclass(frozen=True)
class Endpoint:
    name: str
    kind: str  # "api" | "page"
    call: Callable[[World, object], object]
    owner: int
    counterparty: int
    funded: bool = True
    intents: bool = False
    with_dispute: bool = False  # opened (by the buyer) before the attempt, not inside it
    delivered: bool = False


def _first(world: World) -> str:
    return milestones(world.escrow)[0].public_id


def _provider_body() -> str:
    return json.dumps(
        {
            "amount": 1000,
            "purpose": "Edited",
            "whoPays": "buyer",
            "milestones": [{"title": "A", "amount": 400}, {"title": "B", "amount": 600}],
        }
    )


def _webhook(world: World) -> str:
    return webhook_services.webhook_endpoint_create(
        customer=world.seller, url="http://127.0.0.1:8149/hook"
    ).public_id


def _dispute(world: World) -> str:
    return world.dispute


def _open_dispute(world: World) -> None:
    """A dispute the buyer opened on the first milestone, with a file as evidence."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    dispute = services.dispute_open(
        escrow=world.escrow,
        milestone=milestones(world.escrow)[0],
        by=world.buyer,
        reason="late",
        evidence=services.EvidenceInput(
            text="photo", file=SimpleUploadedFile("a.txt", b"evidence", content_type="text/plain")
        ),
    )
    world.dispute = f"{world.escrow.public_id}/disputes/{dispute.public_id}"


def _evidence_file(world: World) -> str:
    path = world.dispute
    evidence = Escrow.objects.get(pk=world.escrow.pk).disputes.get().evidence.get()
    return f"/escrows/{path}/evidence/{evidence.public_id}/file"


def _refund_request(world: World) -> str:
    return services.refund_request_create(escrow=world.escrow, by=world.buyer, reason="late").public_id


def _proposal(world: World) -> str:
    """A mutual cancellation proposed by the buyer (so the seller answers, the buyer withdraws)."""
    return services.cancellation_propose(
        escrow=world.escrow, by=world.buyer, buyer_amount=60_000, seller_amount=40_000
    ).public_id


def _change_order(world: World) -> str:
    """A change order the buyer proposed lowering the second stage (so the seller answers, the
    buyer withdraws; accepting it moves money without anyone topping up)."""
    second = milestones(world.escrow)[1]
    return services.change_order_propose(
        escrow=world.escrow, by=world.buyer, changes=[services.StageEdit(milestone=second, amount=60_000)]
    ).public_id


def _e(world: World) -> str:
    return f"/v1/escrows/{world.escrow.public_id}"


def _p(world: World) -> str:
    return f"/escrows/{world.escrow.public_id}"


ENDPOINTS = [
    # -- payment-intents surface
    Endpoint("GET intent", "api", lambda w, c: c.get(f"/v1/payment-intents/{w.escrow.public_id}"), 200, 200),
    Endpoint("GET intent milestones", "api",
             lambda w, c: c.get(f"/v1/payment-intents/{w.escrow.public_id}/escrow/milestones"), 200, 200),
    Endpoint("POST intent milestone", "api",
             lambda w, c: c.post(f"/v1/payment-intents/{w.escrow.public_id}/escrow/milestones",
                                 {"milestoneIndex": 0, "amount": "300.00", "description": "one"},
                                 format="json"),
             201, 403, funded=False, intents=True),
    Endpoint("POST intent milestone complete", "api",
             lambda w, c: c.post(
                 f"/v1/payment-intents/{w.escrow.public_id}/escrow/milestones/{_first(w)}/complete",
                 {"completedBy": "me", "completionProof": "done"}, format="json"),
             200, 200),  # the buyer calling "complete" accepts the stage: it is released
    # -- escrow-provider surface
    Endpoint("PUT provider edit", "api",
             lambda w, c: c.put(f"/v1/escrow/milestone/edit/{w.escrow.payment_token}", _provider_body(),
                                content_type="application/json"),
             200, 403, funded=False),
    Endpoint("GET provider milestones", "api",
             lambda w, c: c.get(f"/v1/escrow/milestone/{w.escrow.payment_token}"), 200, 200),
    Endpoint("POST provider confirm", "api",
             lambda w, c: c.post(f"/v1/escrow/milestone/confirm/{w.escrow.public_id}/{_first(w)}"), 403, 200),
    Endpoint("POST provider pay", "api",
             lambda w, c: c.post("/v1/payment/escrow",
                                 {"gateway": "WALLET", "transactionType": "ESCROW",
                                  "escrowDetails": {"escrowId": w.escrow.public_id}}, format="json"),
             403, 200, funded=False),
    # -- review clock (the buyer extends once; the seller is a party but refused)
    Endpoint("POST extend review", "api",
             lambda w, c: c.post(f"/v1/escrows/{w.escrow.public_id}/milestones/{_first(w)}/extend-review"),
             403, 200, delivered=True),
    # -- partial release (the buyer; the seller is a party but refused)
    Endpoint("POST milestone release part", "api",
             lambda w, c: c.post(f"/v1/escrows/{w.escrow.public_id}/milestones/{_first(w)}/release",
                                 {"amount": "100.00"}, format="json"), 403, 200),
    Endpoint("DELETE webhook endpoint", "api", lambda w, c: c.delete(f"/v1/webhooks/{_webhook(w)}"),
             200, 404),
    # -- disputes and the evidence export: the buyer opened the dispute
    Endpoint("GET disputes", "api",
             lambda w, c: c.get(f"/v1/escrows/{w.escrow.public_id}/disputes"), 200, 200),
    Endpoint("POST dispute open", "api",
             lambda w, c: c.post(f"/v1/escrows/{w.escrow.public_id}/disputes",
                                 {"milestoneId": _first(w), "reason": "late"}, format="json"), 201, 201),
    Endpoint("GET dispute", "api", lambda w, c: c.get(f"/v1/escrows/{_dispute(w)}"), 200, 200,
             with_dispute=True),
    Endpoint("POST dispute evidence", "api",
             lambda w, c: c.post(f"/v1/escrows/{_dispute(w)}/evidence", {"text": "more"}, format="json"),
             201, 201, with_dispute=True),
    Endpoint("POST dispute answer", "api",
             lambda w, c: c.post(f"/v1/escrows/{_dispute(w)}/answer", {"answer": "contest"}, format="json"),
             200, 403, with_dispute=True),
    Endpoint("POST dispute withdraw", "api",
             lambda w, c: c.post(f"/v1/escrows/{_dispute(w)}/withdraw", {}, format="json"), 403, 200,
             with_dispute=True),
    Endpoint("POST dispute resolve", "api",
             lambda w, c: c.post(f"/v1/escrows/{_dispute(w)}/resolve", {"outcome": "refund"}, format="json"),
             403, 403, with_dispute=True),
    Endpoint("GET evidence export", "api", lambda w, c: c.get(f"/v1/escrows/{w.escrow.public_id}/evidence"),
             200, 200),
    Endpoint("page dispute detail", "page", lambda w, c: c.get(f"/escrows/{_dispute(w)}/"), 200, 200,
             with_dispute=True),
    Endpoint("page dispute evidence", "page",
             lambda w, c: c.post(f"/escrows/{_dispute(w)}/evidence/", {"evidence_text": "more"}), 302, 302,
             with_dispute=True),
    Endpoint("page dispute evidence file", "page", lambda w, c: c.get(_evidence_file(w)), 200, 200,
             with_dispute=True),
    Endpoint("page dispute answer", "page",
             lambda w, c: c.post(f"/escrows/{_dispute(w)}/answer/", {"answer": "contest"}), 302, 302,
             with_dispute=True),
    Endpoint("page dispute withdraw", "page", lambda w, c: c.post(f"/escrows/{_dispute(w)}/withdraw/"),
             302, 302, with_dispute=True),
    Endpoint("page dispute resolve (staff only)", "page",
             lambda w, c: c.post(f"/escrows/{_dispute(w)}/resolve/", {"outcome": "refund", "confirmed": "1"}),
             404, 404, with_dispute=True),
    Endpoint("page evidence record", "page", lambda w, c: c.get(f"/escrows/{w.escrow.public_id}/evidence/"),
             200, 200),
    Endpoint("page evidence record JSON", "page",
             lambda w, c: c.get(f"/escrows/{w.escrow.public_id}/evidence.json"), 200, 200),
    # -- refunds and mutual cancellation
    Endpoint("POST refunds", "api",
             lambda w, c: c.post(f"{_e(w)}/refunds", {"milestoneIds": [_first(w)]}, format="json"), 200, 403),
    Endpoint("GET refund requests", "api", lambda w, c: c.get(f"{_e(w)}/refund-requests"), 200, 200),
    Endpoint("POST refund request", "api",
             lambda w, c: c.post(f"{_e(w)}/refund-requests", {"reason": "late"}, format="json"), 403, 201),
    Endpoint("POST refund request accept", "api",
             lambda w, c: c.post(f"{_e(w)}/refund-requests/{_refund_request(w)}/accept"), 200, 403),
    Endpoint("POST refund request decline", "api",
             lambda w, c: c.post(f"{_e(w)}/refund-requests/{_refund_request(w)}/decline", {"reason": "no"},
                                 format="json"), 200, 403),
    Endpoint("POST refund request withdraw", "api",
             lambda w, c: c.post(f"{_e(w)}/refund-requests/{_refund_request(w)}/withdraw"), 403, 200),
    Endpoint("GET cancellation proposals", "api", lambda w, c: c.get(f"{_e(w)}/cancellation-proposals"),
             200, 200),
    Endpoint("POST cancellation proposal", "api",
             lambda w, c: c.post(f"{_e(w)}/cancellation-proposals", {"buyerAmount": "1000.00",
                                 "sellerAmount": "0"}, format="json"), 201, 201),
    Endpoint("POST cancellation accept", "api",
             lambda w, c: c.post(f"{_e(w)}/cancellation-proposals/{_proposal(w)}/accept"), 200, 403),
    Endpoint("POST cancellation decline", "api",
             lambda w, c: c.post(f"{_e(w)}/cancellation-proposals/{_proposal(w)}/decline"), 200, 403),
    Endpoint("POST cancellation withdraw", "api",
             lambda w, c: c.post(f"{_e(w)}/cancellation-proposals/{_proposal(w)}/withdraw"), 403, 200),
    Endpoint("page refund milestones", "page", lambda w, c: c.get(f"{_p(w)}/refunds/"), 200, 302),
    Endpoint("page refund milestones confirm", "page",
             lambda w, c: c.post(f"{_p(w)}/refunds/", {"milestones": [_first(w)], "confirm": "yes"}),
             302, 302),
    Endpoint("page refund request", "page", lambda w, c: c.get(f"{_p(w)}/refund-requests/new/"), 302, 200),
    Endpoint("page refund request accept", "page",
             lambda w, c: c.get(f"{_p(w)}/refund-requests/{_refund_request(w)}/accept/"), 200, 302),
    Endpoint("page refund request decline", "page",
             lambda w, c: c.post(f"{_p(w)}/refund-requests/{_refund_request(w)}/decline/", {"reason": "no"}),
             302, 302),
    Endpoint("page refund request withdraw", "page",
             lambda w, c: c.post(f"{_p(w)}/refund-requests/{_refund_request(w)}/withdraw/"), 302, 302),
    Endpoint("page cancellation propose", "page", lambda w, c: c.get(f"{_p(w)}/cancellation/new/"), 200, 200),
    Endpoint("page cancellation accept", "page",
             lambda w, c: c.get(f"{_p(w)}/cancellation/{_proposal(w)}/accept/"), 200, 302),
    Endpoint("page cancellation decline", "page",
             lambda w, c: c.post(f"{_p(w)}/cancellation/{_proposal(w)}/decline/"), 302, 302),
    Endpoint("page cancellation withdraw", "page",
             lambda w, c: c.post(f"{_p(w)}/cancellation/{_proposal(w)}/withdraw/"), 302, 302),
    # -- change orders
    Endpoint("GET change orders", "api", lambda w, c: c.get(f"{_e(w)}/change-orders"), 200, 200),
    Endpoint("POST change order", "api",
             lambda w, c: c.post(f"{_e(w)}/change-orders",
                                 {"changes": [{"type": "add", "amount": "10.00"}]}, format="json"), 201, 201),
    Endpoint("POST change order accept", "api",
             lambda w, c: c.post(f"{_e(w)}/change-orders/{_change_order(w)}/accept"), 200, 403),
    Endpoint("POST change order decline", "api",
             lambda w, c: c.post(f"{_e(w)}/change-orders/{_change_order(w)}/decline", {"reason": "no"},
                                 format="json"), 200, 403),
    Endpoint("POST change order withdraw", "api",
             lambda w, c: c.post(f"{_e(w)}/change-orders/{_change_order(w)}/withdraw"), 403, 200),
    Endpoint("page change propose", "page", lambda w, c: c.get(f"{_p(w)}/changes/new/"), 200, 200),
    Endpoint("page change accept confirm", "page",
             lambda w, c: c.get(f"{_p(w)}/changes/{_change_order(w)}/accept/"), 200, 302),
    Endpoint("page change accept", "page",
             lambda w, c: c.post(f"{_p(w)}/changes/{_change_order(w)}/accept/", {"confirmed": "1"}),
             302, 302),
    Endpoint("page change decline confirm", "page",
             lambda w, c: c.get(f"{_p(w)}/changes/{_change_order(w)}/decline/", {"reason": "no"}), 200, 302),
    Endpoint("page change withdraw confirm", "page",
             lambda w, c: c.get(f"{_p(w)}/changes/{_change_order(w)}/withdraw/"), 302, 200),
    Endpoint("page change withdraw", "page",
             lambda w, c: c.post(f"{_p(w)}/changes/{_change_order(w)}/withdraw/"), 302, 302),
    # -- pages
    Endpoint("page escrow", "page", lambda w, c: c.get(f"/escrows/{w.escrow.public_id}/"), 200, 200),
    Endpoint("page edit", "page", lambda w, c: c.get(f"/escrows/{w.escrow.public_id}/edit/"), 200, 302,
             funded=False),
    Endpoint("page cancel", "page", lambda w, c: c.post(f"/escrows/{w.escrow.public_id}/cancel/"), 302, 302,
             funded=False),
    Endpoint("page refund", "page", lambda w, c: c.post(f"/escrows/{w.escrow.public_id}/refund/"), 302, 302),
    # No stage named: the form comes back (400) asking which one, with the reason kept.
    Endpoint("page dispute", "page",
             lambda w, c: c.post(f"/escrows/{w.escrow.public_id}/dispute/", {"reason": "late"}), 400, 400),
    # The confirmation pages: the party who may act sees it; the other is sent back to the escrow.
    Endpoint("page cancel confirm", "page", lambda w, c: c.get(f"/escrows/{w.escrow.public_id}/cancel/"),
             200, 200, funded=False),
    Endpoint("page refund confirm", "page", lambda w, c: c.get(f"/escrows/{w.escrow.public_id}/refund/"),
             200, 302),
    Endpoint("page dispute withdraw confirm", "page",
             lambda w, c: c.get(f"/escrows/{_dispute(w)}/withdraw/"), 302, 200, with_dispute=True),
    Endpoint("page deliver", "page",
             lambda w, c: c.post(f"/escrows/{w.escrow.public_id}/milestones/{_first(w)}/deliver/",
                                 {"proof": "done"}), 302, 302),
    Endpoint("page release", "page",
             lambda w, c: c.post(f"/escrows/{w.escrow.public_id}/milestones/{_first(w)}/release/",
                                 {"confirm": "1"}), 302, 302),
    Endpoint("page release part confirm", "page",
             lambda w, c: c.get(f"/escrows/{w.escrow.public_id}/milestones/{_first(w)}/release-part/",
                                {"amount": "100.00"}), 302, 200),
    # The seller's POST is refused by the service, said on the form it came from (400).
    Endpoint("page release part", "page",
             lambda w, c: c.post(f"/escrows/{w.escrow.public_id}/milestones/{_first(w)}/release-part/",
                                 {"amount": "100.00"}), 400, 302),
    Endpoint("page extend review confirm", "page",
             lambda w, c: c.get(f"/escrows/{w.escrow.public_id}/milestones/{_first(w)}/extend-review/"),
             302, 200, delivered=True),
    Endpoint("page extend review", "page",
             lambda w, c: c.post(f"/escrows/{w.escrow.public_id}/milestones/{_first(w)}/extend-review/"),
             302, 302, delivered=True),
    Endpoint("page webhook endpoint", "page", lambda w, c: c.get(f"/settings/webhooks/{_webhook(w)}/"),
             200, 404),
    Endpoint("page webhook toggle", "page", lambda w, c: c.post(f"/settings/webhooks/{_webhook(w)}/toggle"),
             302, 404),
    Endpoint("page webhook delete", "page", lambda w, c: c.post(f"/settings/webhooks/{_webhook(w)}/delete"),
             302, 404),
]  # fmt: skip


def _expected(endpoint: Endpoint, principal: str) -> int:
    if principal == "owner":
        return endpoint.owner
    if principal == "counterparty":
        return endpoint.counterparty
    if principal in OUTSIDERS:
        return OUTSIDERS[principal] if endpoint.kind == "api" or principal == "stranger" else 302
    return 401 if endpoint.kind == "api" else 302  # revoked key / no key


@pytest.mark.django_db
def test_authorization_matrix(capsys, settings, tmp_path):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.MEDIA_ROOT = str(tmp_path / "media")
    attempts = wrong_successes = 0
    mismatches = []
    for endpoint in ENDPOINTS:
        for principal in PRINCIPALS:
            world = _world(funded=endpoint.funded, intents=endpoint.intents, delivered=endpoint.delivered)
            if endpoint.with_dispute:
                _open_dispute(world)
            client = (_api_client if endpoint.kind == "api" else _page_client)(world, principal)
            entitled = principal in ("owner", "counterparty")
            before = ledger_fingerprint()
            response = endpoint.call(world, client)
            attempts += 1
            status = response.status_code
            expected = _expected(endpoint, principal)
            if status != expected:
                mismatches.append((endpoint.name, principal, expected, status, response.content[:200]))
            if not entitled and (200 <= status < 300 or ledger_fingerprint() != before):
                wrong_successes += 1
            if not entitled and endpoint.kind == "page" and status == 302:
                # Anonymous page visits must be sent to the login page, nowhere else.
                assert "/accounts/login/" in response["Location"], (
                    endpoint.name,
                    principal,
                    response["Location"],
                )
    figures.add(SECTION, "attempts", attempts)
    figures.add(SECTION, "succeeded wrongly", wrong_successes)
    figures.add(SECTION, "violations", wrong_successes + len(mismatches))
    with capsys.disabled():
        print(f"\nauthorization matrix: {attempts} attempts, {wrong_successes} succeeded wrongly, "
              f"{len(mismatches)} answered other than expected")  # fmt: skip
    assert wrong_successes == 0
    assert mismatches == [], "\n".join(map(str, mismatches))
    assert attempts == len(ENDPOINTS) * len(PRINCIPALS)


@pytest.mark.django_db
def test_the_payment_link_page_is_a_capability_but_pays_only_for_its_buyer(seller, buyer, stranger):
    """/pay/<token> shows whoever holds the link what it is for (that is what a link is), but a
    link reserved for one buyer neither shows a pay form to anyone else nor takes their money."""
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Linked", currency="USD", amount=10_000),
        milestones=[MilestoneInput(amount=5_000), MilestoneInput(amount=5_000)],
    )
    services.wallet_topup(customer=stranger, amount=escrow.total_charge, currency="USD")
    client = Client()
    client.force_login(stranger)
    before = ledger_fingerprint()
    page = client.get(f"/pay/{escrow.payment_token}")
    assert page.status_code == 200 and "data-pay" not in page.content.decode()
    client.post(f"/pay/{escrow.payment_token}", {"source": "WALLET"})
    assert ledger_fingerprint() == before
    assert Client().get("/pay/pt_not_a_real_token").status_code == 404


@pytest.mark.django_db
def test_fee_quote_needs_a_live_key_and_shows_nothing_of_anyone_else():
    """The fee quote is not an object: any signed-in customer may ask, nobody else may, and the
    answer names only the caller (as seller) and payees the caller chose."""
    world = _world(funded=False)
    body = {"currency": "USD", "amount": "100.00", "milestones": [{"amount": "40.00"}, {"amount": "60.00"}]}
    for principal in PRINCIPALS:
        before = ledger_fingerprint()
        response = _api_client(world, principal).post("/v1/fee-quote", body, format="json")
        figures.add(SECTION, "attempts")
        # The other platform names a customer that is not its own (customer-id): refused as unknown.
        expected = {"revoked key": 401, "no key": 401, "other platform": 404}.get(principal, 200)
        assert response.status_code == expected, (principal, response.content[:200])
        assert ledger_fingerprint() == before
        if expected == 200:
            payees = {m["payee"] for m in response.json()["milestones"]}
            assert world.escrow.public_id not in response.content.decode()
            assert len(payees) == 1
