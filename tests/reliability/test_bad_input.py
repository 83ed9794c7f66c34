"""Bad input never reaches a 500: schemathesis generates requests from the OpenAPI schema (run
in-process against the WSGI app with a real API key), and a hand-made fuzz sends malformed
bodies to every write endpoint. Every answer is a 4xx in the surface's own error envelope
(or a success), and nothing a 4xx answered changed the ledger."""

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

from accounts.services import api_key_create
from escrows import services
from escrows.services import EscrowTerms, MilestoneInput
from tests.factories import UserFactory
from tests.helpers import ledger_fingerprint, milestones
from tests.reliability import figures

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
    if path.startswith(("/v1/escrow/", "/v1/payment/", "/v1/customer/")):
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
    real_ids = {
        "intent_id": escrow.public_id,
        "escrow_id": escrow.public_id,
        "payment_token": escrow.payment_token,
        "milestone_id": milestones(escrow)[0].public_id,
        "endpoint_id": "we_missing",
    }
    # Called as a plain WSGI app, Django would close the connection after each request (the
    # test client unhooks that too): the test's transaction must survive between requests.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        api = schemathesis.openapi.from_wsgi("/v1/schema", application)
        operations = [result.ok() for result in api.get_all_operations()]
        assert len(operations) >= 13
        failures = _run_schemathesis(operations, key, real_ids)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    figures.add(SECTION, "schemathesis operations", len(operations))
    figures.add(SECTION, "violations", len(failures))
    assert failures == [], "\n".join(map(str, failures[:20]))


def _run_schemathesis(operations: list, key: str, real_ids: dict[str, str]) -> list[tuple]:
    failures: list[tuple] = []
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        strategies = [
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        ]
        if names:
            fixed = {name: real_ids[name] for name in names if name in real_ids}
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed))

        @hypothesis_settings(
            max_examples=figures.scaled(40),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        @given(case=st.one_of(strategies))
        def check(case) -> None:
            response = case.call(headers={"X-API-Key": key})
            figures.add(SECTION, "schemathesis requests")
            figures.add(SECTION, "server errors", int(response.status_code >= 500))
            if not _envelope_ok(case.path, response.status_code, response.content):
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
