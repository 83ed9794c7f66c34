"""No 500 for anything a client sends. Every field of every write endpoint given every JSON type
and some nasty strings; schemathesis requests generated from the OpenAPI schema (run in-process
against the WSGI app with a real API key); malformed bodies, wrong content types and oversized
requests. Every answer is a success or a 4xx in the surface's own error envelope, and nothing a
4xx answered changed the ledger. The schemathesis and malformed-body runs report their counts as
the reliability figures' "bad input" section."""

import json

import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis import GenerationMode

from accounts.services import api_key_create, customer_create_for_platform
from escrows import services
from escrows.api.urls import PROVIDER_PREFIXES
from escrows.services import EscrowTerms, MilestoneInput
from tests.api.conftest import client_for
from tests.api.test_refunds import post, url
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, ledger_fingerprint, make_escrow, milestones
from tests.reliability import figures

pytestmark = pytest.mark.django_db

# -- every field of every write endpoint, every JSON type --------------------------------------

VALUES = [None, 0, -1, 1.5, 10**40, True, [], [1], {}, {"a": 1}, "", "x" * 20_000, "a\u0000b", "😀", "null"]


def bodies(base: dict):
    for field in base:
        for value in VALUES:
            yield {**base, field: value}


def check(response, provider: bool):
    assert response.status_code < 500, response.content
    body = response.json()
    if response.status_code >= 400:
        if provider:
            assert body["status"] == response.status_code and body["message"]
        else:
            assert body["error"]["message"]


def test_payment_intents_fields(seller):
    client = client_for(seller)
    base = {
        "amount": "100.00",
        "currency": "USD",
        "type": "DELIVERY_VS_PAYMENT",
        "settlementMethod": "OFF_RAMP_MOCK",
        "settlementDestination": "bank",
        "description": "d",
        "metadata": {"releaseType": "MILESTONE_LOCKED", "autoRelease": True},
    }
    for body in bodies(base):
        check(client.post("/v1/payment-intents", body, format="json"), provider=False)
    intent = client.post("/v1/payment-intents", base, format="json").json()["id"]
    for body in bodies({"milestoneIndex": 0, "amount": "1.00", "description": "d", "percentage": 10}):
        check(
            client.post(f"/v1/payment-intents/{intent}/escrow/milestones", body, format="json"),
            provider=False,
        )


def test_complete_fields(seller):
    client = client_for(seller)
    escrow = make_escrow(seller)
    first = milestones(escrow)[0]
    base = {"completedBy": "0xabc", "completionProof": "p", "completionProofURI": "https://example.com/p"}
    for body in bodies(base):
        url = f"/v1/payment-intents/{escrow.public_id}/escrow/milestones/{first.public_id}/complete"
        check(client.post(url, body, format="json"), provider=False)


def test_provider_fields(seller, buyer, platform):
    client = client_for(seller)
    base = {
        "amount": 100,
        "currency": "USD",
        "purpose": "p",
        "description": "d",
        "whoPays": "buyer",
        "maxDelivery": 3,
        "deliveryTimeline": "days",
        "totalQuantity": 1,
        "categoryId": "c",
        "milestones": [{"title": "a", "amount": 50}, {"title": "b", "amount": 50}],
    }
    for body in bodies(base):
        check(client.post("/v1/escrow/milestone/create", body, format="json"), provider=True)
    for body in bodies(
        {
            "title": "a",
            "description": "d",
            "amount": 50,
            "dueDate": "2099-01-01T00:00:00Z",
            "customerId": "cus_x",
        }
    ):
        data = {**base, "milestones": [body, {"title": "b", "amount": 50}]}
        check(client.post("/v1/escrow/milestone/create", data, format="json"), provider=True)
    escrow = make_escrow(seller)
    for body in bodies(base):
        check(
            client.put(f"/v1/escrow/milestone/edit/{escrow.payment_token}", body, format="json"),
            provider=True,
        )
    payer = client_for(buyer)
    pay = {
        "gateway": "WALLET",
        "transactionType": "ESCROW",
        "escrowDetails": {"escrowId": escrow.public_id},
        "reference": "r",
        "cardToken": "tok_visa",
    }
    for body in bodies(pay):
        check(payer.post("/v1/payment/escrow", body, format="json"), provider=True)
    for body in bodies({"amount": 1, "currency": "USD"}):
        check(payer.post("/v1/payment/topup", body, format="json"), provider=True)
    platform_client = client_for(platform)
    for body in bodies({"firstname": "a", "lastname": "b", "email": "new@example.test", "phone": "1"}):
        check(platform_client.post("/v1/customer/create", body, format="json"), provider=True)


# -- requests generated from the OpenAPI schema ------------------------------------------------

SECTION = "bad input"


def _envelope_ok(path: str, status: int, body: bytes) -> bool:
    """4xx answers carry the surface's error envelope; a 500 never happens."""
    if status >= 500:
        return False
    if status < 400:
        return True
    try:
        data = json.loads(body)
    except ValueError:
        return False
    if path.split("/")[2] in PROVIDER_PREFIXES:
        return isinstance(data, dict) and data.get("status") == status and bool(data.get("message"))
    error = data.get("error") if isinstance(data, dict) else None
    return isinstance(error, dict) and bool(error.get("code")) and bool(error.get("message"))


@pytest.mark.django_db
def test_generated_requests_never_get_a_server_error(settings):
    """Every operation of the schema, with schema-valid and schema-violating requests, on random
    ids and on real ones (so the handlers past the lookups are reached too)."""
    from escrow_site.wsgi import application

    settings.API_RATE_LIMIT = "100000/min"
    cache.clear()
    platform, buyer = UserFactory(is_platform=True), UserFactory()
    key = api_key_create(user=platform)[1]
    escrow = services.escrow_create(
        seller=platform,
        buyer=buyer,
        terms=EscrowTerms(title="Schema", currency="USD", amount=10_000),
        milestones=[MilestoneInput(amount=4_000), MilestoneInput(amount=6_000)],
    )
    # The platform's own customers, and standard escrows between them: one unpaid (edit, delete,
    # verify), one paid (claim, confirm, dispute, resolve).
    seller_customer = customer_create_for_platform(platform=platform, email="sam.seller@shop.test")
    buyer_customer = customer_create_for_platform(platform=platform, email="bea.buyer@shop.test")
    unpaid, paid = (
        services.escrow_create(
            seller=seller_customer,
            buyer=buyer_customer,
            terms=EscrowTerms(title=title, currency="USD", amount=10_000, settlement_type="STANDARD"),
            milestones=[],
        )
        for title in ("Schema unpaid", "Schema paid")
    )
    services.wallet_topup(customer=buyer_customer, amount=100_000, currency="USD")
    services.escrow_fund(escrow=paid, by=buyer_customer)
    real_ids = {
        "intent_id": escrow.public_id,
        "escrow_id": escrow.public_id,
        "payment_token": escrow.payment_token,
        "milestone_id": milestones(escrow)[0].public_id,
        "endpoint_id": "we_missing",
        "customer_id": seller_customer.customer_id,
    }
    # The parties act through `customer-id`; the platform resolves a dispute as itself.
    parties = [seller_customer.customer_id, buyer_customer.customer_id]
    standard_ids = {
        prefix: ({"payment_token": e.payment_token, "escrow_id": e.public_id}, acting)
        for e, prefixes, acting in (
            (unpaid, UNPAID_ROUTES, parties),
            (paid, PAID_ROUTES, parties),
            (paid, ("/v1/escrow/dispute/resolve/",), [None]),
        )
        for prefix in prefixes
    }
    # Called as a plain WSGI app, Django would close the connection after each request (the
    # test client unhooks that too): the test's transaction must survive between requests.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        api = schemathesis.openapi.from_wsgi("/v1/schema", application)
        operations = [result.ok() for result in api.get_all_operations()]
        assert len(operations) >= 13
        failures = _run_schemathesis(operations, key, real_ids, standard_ids)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    figures.add(SECTION, "schemathesis operations", len(operations))
    figures.add(SECTION, "violations", len(failures))
    assert failures == [], "\n".join(map(str, failures[:20]))


# Payluk's standard-escrow routes, by the path they start with, and which escrow each is tried on.
UNPAID_ROUTES = ("/v1/escrow/edit/", "/v1/escrow/delete/", "/v1/escrow/verify/")
PAID_ROUTES = (
    "/v1/escrow/claim-funds/",
    "/v1/escrow/confirm-payment/",
    "/v1/escrow/submit-dispute/",
    "/v1/escrow/dispute/get/",
)


def _run_schemathesis(
    operations: list,
    key: str,
    real_ids: dict[str, str],
    standard_ids: dict[str, tuple[dict[str, str], list[str | None]]],
) -> list[tuple]:
    failures: list[tuple] = []
    # Nothing else writes between two requests: the ledger after one is the ledger before the next.
    ledger = {"now": ledger_fingerprint()}
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        strategies = [
            st.tuples(operation.as_strategy(GenerationMode.POSITIVE), st.none()),
            st.tuples(operation.as_strategy(GenerationMode.NEGATIVE), st.none()),
        ]
        if names:
            ids, acting = real_ids, [None]
            for prefix, (escrow_ids, parties) in standard_ids.items():
                if operation.path.startswith(prefix):
                    ids, acting = {**real_ids, **escrow_ids}, parties
            fixed = {name: ids[name] for name in names if name in ids}
            strategies.append(
                st.tuples(
                    operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed),
                    st.sampled_from(acting),
                )
            )

        @hypothesis_settings(
            max_examples=figures.scaled(40),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        @given(drawn=st.one_of(strategies))
        def check(drawn) -> None:
            case, customer_id = drawn
            if customer_id is not None:
                case.headers = {**(case.headers or {}), "customer-id": customer_id}
            before = ledger["now"]
            response = case.call(headers={"X-API-Key": key})
            ledger["now"] = ledger_fingerprint()
            figures.add(SECTION, "schemathesis requests")
            figures.add(SECTION, "server errors", int(response.status_code >= 500))
            refused = 400 <= response.status_code < 500
            if not _envelope_ok(case.path, response.status_code, response.content) or (
                refused and ledger["now"] != before
            ):
                failures.append(
                    (case.method, case.formatted_path, response.status_code, response.content[:300])
                )

        check()
    return failures


# -- hand-made malformed bodies ---------------------------------------------------------------

HUGE = "x" * 1_000_000
DEEP = "[" * 50_000 + "]" * 50_000

RAW_BODIES = [
    "",
    "not json",
    "{",
    '{"amount": }',
    "[]",
    "null",
    "42",
    '"just a string"',
    '{"amount": NaN}',
    '{"amount": Infinity}',
    '{"amount": 1e309}',
    DEEP,
    '{"a": "\\ud800"}',
    json.dumps({"purpose": HUGE}),
]

AMOUNTS = [
    -1,
    0,
    -0.0,
    0.5,
    1e-9,
    10**30,
    2**63,
    "1.001",
    "-5.00",
    "0.00",
    "1e3",
    "١٢٣",
    "12,00",
    True,
    None,
    [],
    {},
]
TEXTS = ["", " ", "\x00", "é" * 300, "💸" * 100, "\u202e", HUGE[:20_000], 12, None, ["x"], {"x": 1}]


def _bodies(base: dict, amount_keys: list[str], text_keys: list[str]) -> list[tuple[object, bool]]:
    """(body, must be refused): every bad amount and an unknown field must be refused; odd texts
    and a missing field may be fine (an optional field, or unicode in a description)."""
    out: list[tuple[object, bool]] = []
    for key in amount_keys:
        out += [({**base, key: value}, True) for value in AMOUNTS]
    for key in text_keys:
        out += [({**base, key: value}, False) for value in TEXTS]
    out.append(({**base, "unexpected": "field"}, True))
    out += [({k: v for k, v in base.items() if k != drop}, False) for drop in base]
    return out


@pytest.mark.django_db
def test_malformed_bodies_get_4xx_envelopes_and_change_nothing(settings):
    settings.API_RATE_LIMIT = "100000/min"
    cache.clear()
    seller, buyer = UserFactory(), UserFactory()
    escrow = services.escrow_create(
        seller=seller,
        buyer=buyer,
        terms=EscrowTerms(title="Fuzz", currency="USD", amount=10_000),
        milestones=[MilestoneInput(amount=4_000), MilestoneInput(amount=6_000)],
    )
    intent = services.escrow_create(
        seller=seller, terms=EscrowTerms(title="Fuzz intent", currency="JPY", amount=1_000), milestones=None
    )
    first = milestones(escrow)[0]
    seller_api, buyer_api = APIClient(), APIClient()
    seller_api.credentials(HTTP_X_API_KEY=api_key_create(user=seller)[1])
    buyer_api.credentials(HTTP_X_API_KEY=api_key_create(user=buyer)[1])
    provider_escrow = {
        "amount": 100,
        "purpose": "Fuzzed",
        "whoPays": "buyer",
        "milestones": [{"title": "A", "amount": 40}, {"title": "B", "amount": 60}],
    }
    intents = "/v1/payment-intents"
    complete = f"{intents}/{escrow.public_id}/escrow/milestones/{first.public_id}/complete"
    targets = [
        (seller_api, "post", intents,
         {"amount": "100.00", "currency": "USD", "description": "d", "type": "ESCROW"}, ["amount"],
         ["currency", "description"]),
        (seller_api, "post", f"{intents}/{intent.public_id}/escrow/milestones",
         {"milestoneIndex": 0, "amount": "500", "description": "d"}, ["amount"],
         ["milestoneIndex", "description"]),
        (seller_api, "post", complete,
         {"completedBy": "me"}, [], ["completedBy", "completionProof", "completionProofURI"]),
        (seller_api, "post", "/v1/escrow/milestone/create", provider_escrow, ["amount"],
         ["purpose", "whoPays"]),
        (seller_api, "put", f"/v1/escrow/milestone/edit/{escrow.payment_token}", provider_escrow, ["amount"],
         ["purpose", "description"]),
        (buyer_api, "post", "/v1/payment/escrow",
         {"gateway": "WALLET", "escrowDetails": {"escrowId": escrow.public_id}}, [],
         ["gateway", "reference"]),
        (buyer_api, "post", "/v1/payment/topup", {"amount": 5}, ["amount"], ["currency"]),
        (seller_api, "post", "/v1/customer/create", {"email": "c@example.test"}, [], ["email", "firstname"]),
        (seller_api, "post", "/v1/webhooks", {"url": "https://hooks.example.com/x"}, [],
         ["url", "description"]),
    ]  # fmt: skip
    wrong = []
    for client, method, path, base, amount_keys, text_keys in targets:
        cases: list[tuple[str, object, bool]] = [("raw", raw, True) for raw in RAW_BODIES]
        cases += [("json", body, must) for body, must in _bodies(base, amount_keys, text_keys)]
        for kind, body, must_refuse in cases:
            before = ledger_fingerprint()
            payload = body if kind == "raw" else json.dumps(body)
            response = getattr(client, method)(path, payload, content_type="application/json")
            status = response.status_code
            figures.add(SECTION, "malformed bodies sent")
            figures.add(SECTION, "server errors", int(status >= 500))
            # Some mutated bodies are still valid requests (e.g. a dropped optional field): those
            # may succeed. A refusal must be a 4xx envelope and leave the ledger alone.
            refused_cleanly = 400 <= status < 500 and _envelope_ok(path, status, response.content)
            ok = (status < 400 and not must_refuse) or (refused_cleanly and ledger_fingerprint() == before)
            if not ok:
                wrong.append((method, path, str(body)[:80], status, response.content[:200]))
    figures.add(SECTION, "violations", len(wrong))
    assert wrong == [], "\n".join(map(str, wrong[:20]))


@pytest.mark.django_db
def test_wrong_content_type_and_oversized_requests_are_4xx(settings):
    settings.API_RATE_LIMIT = "100000/min"
    user = UserFactory()
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_create(user=user)[1])
    checks = [
        client.post("/v1/payment/topup", "amount=5", content_type="application/x-www-form-urlencoded"),
        client.post("/v1/payment/topup", b"\xff\xfe\x00", content_type="application/json"),
        client.post("/v1/payment-intents", "<xml/>", content_type="application/xml"),
        client.post(
            "/v1/payment-intents",
            json.dumps({"amount": "1.00", "x": HUGE * 3}),
            content_type="application/json",
        ),
    ]  # fmt: skip
    for response in checks:
        figures.add(SECTION, "malformed bodies sent")
        ok = 400 <= response.status_code < 500
        figures.add(SECTION, "violations", 0 if ok else 1)
        assert ok, (response.status_code, response.content[:200])


# -- the refund and cancellation routes: every field, every JSON type --------------------------


def test_no_500_for_anything_a_client_sends(funded, seller_api, buyer_api):
    """Every field of every write endpoint here, given every JSON type and some nasty strings."""
    first = milestones(funded)[0].public_id
    rid = post(buyer_api, url(funded, "refund-requests"), {"reason": "x"}).json()["id"]
    pid = post(
        buyer_api, url(funded, "cancellation-proposals"), {"buyerAmount": "1", "sellerAmount": "999"}
    ).json()["id"]
    cases = [
        (seller_api, url(funded, "refunds"), {"milestoneIds": [first], "reason": "x"}),
        (buyer_api, url(funded, "refund-requests"), {"reason": "x", "milestoneIds": [first]}),
        (seller_api, url(funded, "refund-requests", rid, "decline"), {"reason": "x"}),
        (
            buyer_api,
            url(funded, "cancellation-proposals"),
            {"buyerAmount": "1", "sellerAmount": "999", "note": "n"},
        ),
        (seller_api, url(funded, "cancellation-proposals", pid, "decline"), {"reason": "x"}),
    ]
    for client, path, base in cases:
        for field in base:
            for value in VALUES:
                for body in ({**base, field: value}, {**base, field: [value]}):
                    r = post(client, path, body)
                    assert r.status_code < 500, (path, body)
                    if r.status_code >= 400:
                        assert r.json()["error"]["message"]
    for path in (
        url(funded, "refund-requests", rid, "withdraw"),
        url(funded, "cancellation-proposals", pid, "accept"),
    ):
        for body in ([], "x", 5, {"x": 1}):
            r = post(buyer_api, path, body)
            assert 400 <= r.status_code < 500 and r.json()["error"]["message"], (path, body)
        assert post(buyer_api, path, {"x": 1}).json()["error"]["param"] == "x"
    assert_ledger_invariants()
