"""The providers' own documented code examples, run against a live server with only the base
URL, the key (and the example's placeholder ids) changed: Finternet's full Python milestone
flow, its other Python snippets, and their curl calls."""

import json
import os
import shutil
import subprocess
import time

import pytest
import requests

from accounts.services import api_key_create
from escrows.models import Escrow, EscrowStatus, MilestoneStatus, SettlementStatus
from tests.api import provider_docs
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, clear_ledger_before_flush, milestones

FINTERNET_BASE = "https://api.finternet.com/v1"

pytestmark = pytest.mark.skipif(
    provider_docs.docs_dir() is None, reason="the providers' documented pages (../shared/seeds) are absent"
)


@pytest.fixture
def _empty_ledger_before_flush(transactional_db):
    yield
    clear_ledger_before_flush()


@pytest.fixture
def env(live_server, transactional_db, _empty_ledger_before_flush, monkeypatch, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    seller = UserFactory(email="merchant@example.test")
    buyer = UserFactory(email="payer@example.test")
    _, seller_key = api_key_create(user=seller)
    _, buyer_key = api_key_create(user=buyer)
    monkeypatch.setenv("FINTERNET_API_KEY", seller_key)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    base = f"{live_server.url}/v1"
    return {"base": base, "seller_key": seller_key, "buyer_key": buyer_key}


def run_python(code: str, env: dict, **names) -> dict:
    code = code.replace(FINTERNET_BASE, env["base"])
    namespace = {"__name__": "finternet_example", "os": os, **names}
    exec(compile(code, "finternet-example", "exec"), namespace)  # noqa: S102 -- Finternet's own example
    return namespace


def buyer_funds(env: dict, escrow: Escrow) -> dict:
    headers = {"Authorization": f"Bearer {env['buyer_key']}"}
    total = (escrow.amount + escrow.fee) // 100
    r = requests.post(
        f"{env['base']}/payment/topup",
        json={"amount": total, "currency": escrow.currency},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    r = requests.post(
        f"{env['base']}/payment/escrow",
        json={
            "gateway": "WALLET",
            "transactionType": "ESCROW",
            "escrowDetails": {"escrowId": escrow.public_id},
            "reference": f"example-{escrow.public_id}",
        },
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()["data"]


def create_intent(env: dict) -> str:
    r = requests.post(
        f"{env['base']}/payment-intents",
        json={
            "amount": "1000.00",
            "currency": "USDC",
            "metadata": {"releaseType": "MILESTONE_LOCKED", "autoRelease": True},
        },
        headers={"X-API-Key": env["seller_key"]},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_milestone_payments_python_example_end_to_end(env, capsys):
    code = provider_docs.reindent(
        provider_docs.flat_section(provider_docs.page("Milestone Payments Example"), "Python Example")
    )
    namespace = run_python(code, env)
    out = capsys.readouterr().out
    assert "Milestone 2 created: milestone_" in out and "Milestone 2 completed" in out
    escrow = Escrow.objects.get(public_id=namespace["intent"]["id"])
    assert [(m.amount, m.status) for m in milestones(escrow)] == [
        (30_000, MilestoneStatus.COMPLETED),
        (50_000, MilestoneStatus.COMPLETED),
        (20_000, MilestoneStatus.COMPLETED),
    ]
    # The example never funds: the buyer pays through the provider pay call; with autoRelease
    # the delivered milestones are released in order, and the escrow completes.
    paid = buyer_funds(env, escrow)
    assert (paid["state"], paid["escrowStatus"]) == ("CLOSED", "COMPLETED")
    assert [m.status for m in milestones(escrow)] == [MilestoneStatus.RELEASED] * 3
    assert Escrow.objects.get(pk=escrow.pk).status == EscrowStatus.COMPLETED
    # Each release schedules its off-ramp settlement (paid in-process here).
    assert sorted(s.status for s in escrow.settlements.all()) == [SettlementStatus.PAID] * 3
    assert_ledger_invariants()


def test_create_and_complete_milestone_python_snippets(env, capsys):
    intent_id = create_intent(env)
    code_002 = provider_docs.reindent(
        provider_docs.flat_section(provider_docs.page("Create Milestone"), "Python", "Best Practices")
    )
    run_python(code_002, env, intent_id=intent_id)
    escrow = Escrow.objects.get(public_id=intent_id)
    assert [m.amount for m in milestones(escrow)] == [20_000, 50_000, 30_000]
    # The Markdown "Create Milestone" page (fenced, properly indented) on a fresh intent.
    other_id = create_intent(env)
    run_python(
        provider_docs.fenced_python(provider_docs.page("Create Milestone", markdown=True))[0],
        env,
        intent_id=other_id,
    )
    assert Escrow.objects.get(public_id=other_id).milestones.count() == 3
    # "Complete Milestone": complete milestone 0 of the first intent.
    first = milestones(escrow)[0]
    code_000 = provider_docs.reindent(
        provider_docs.flat_section(provider_docs.page("Complete Milestone"), "Python", "Best Practices")
    )
    run_python(
        code_000,
        env,
        intent_id=intent_id,
        milestone_id=first.public_id,
        merchant_address="0x742d35Cc6634C0532925a3b844Bc9e7595f42318",
        completion_proof_hash="0xabc123",
    )
    assert "Milestone completed: completed" in capsys.readouterr().out
    assert milestones(escrow)[0].status == MilestoneStatus.COMPLETED
    assert milestones(escrow)[0].completion_proof_uri == "https://example.com/proofs/milestone-0"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_finternet_curl_examples(env):
    def run(command: str, **ids: str) -> dict:
        command = command.replace(FINTERNET_BASE, env["base"]).replace(
            "sk_test_your_key_here", env["seller_key"]
        )
        for placeholder, value in ids.items():
            command = command.replace(placeholder, value)
        done = subprocess.run(["bash", "-c", command + " -sS"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    for markdown in (False, True):
        intent_id = create_intent(env)
        (curl,) = provider_docs.curl_commands(provider_docs.page("Create Milestone", markdown=markdown))
        created = run(curl, intent_2xYz9AbC123=intent_id)
        assert created["object"] == "milestone" and created["data"]["amount"] == "300.00", created
    (curl,) = provider_docs.curl_commands(provider_docs.page("Complete Milestone"))
    escrow = Escrow.objects.get(public_id=intent_id)
    result = run(curl, intent_2xYz9AbC123=intent_id, milestone_xyz789=milestones(escrow)[0].public_id)
    assert result["status"] == "completed", result
    again = run(curl, intent_2xYz9AbC123=intent_id, milestone_xyz789=milestones(escrow)[0].public_id)
    assert again == {
        "error": {
            "code": "invalid_request",
            "message": "Milestone already completed",
            "type": "invalid_request_error",
        }
    }
    missing = run(curl, intent_2xYz9AbC123=intent_id)
    assert missing["error"] == {
        "code": "resource_missing",
        "message": "Milestone not found",
        "type": "invalid_request_error",
    }
