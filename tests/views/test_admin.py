"""Admin: every model listed and searchable, nothing editable by hand, transitions as actions
that go through the services."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from escrows import services
from escrows.models import EscrowStatus, MilestoneStatus, Settlement, SettlementStatus
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones, refresh


@pytest.fixture
def staff_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def run_action(client, model, action, pks):
    url = reverse(f"admin:escrows_{model}_changelist")
    return client.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks]}, follow=True)


@pytest.mark.django_db
def test_every_model_is_registered_and_lists(staff_client, seller, buyer):
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    for model in admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert staff_client.get(url, {"q": "x"}).status_code == 200, url
    assert {m._meta.model_name for m in admin.site._registry} >= {
        "escrow",
        "milestone",
        "payment",
        "settlement",
        "event",
        "ledgeraccount",
        "ledgertransaction",
        "user",
    }
    page = staff_client.get(reverse("admin:escrows_escrow_change", args=[escrow.pk])).content.decode()
    assert "Stage 0" in page  # milestones inline
    assert 'name="amount"' not in page and 'name="status"' not in page  # read-only
    assert reverse("evidence_export", args=[escrow.public_id]) in page
    record = staff_client.get(reverse("evidence_export_json", args=[escrow.public_id]))
    assert record.status_code == 200 and record.json()["escrow"]["id"] == escrow.public_id


@pytest.mark.django_db
def test_money_and_status_cannot_be_posted(staff_client, seller):
    escrow = make_escrow(seller)
    before = ledger_fingerprint()
    response = staff_client.post(
        reverse("admin:escrows_escrow_change", args=[escrow.pk]), {"amount": "1", "status": "COMPLETED"}
    )
    assert response.status_code in (302, 403)
    assert ledger_fingerprint() == before


@pytest.mark.django_db
def test_cancel_action_calls_the_service(staff_client, seller, buyer):
    unpaid = make_escrow(seller)
    paid = make_escrow(seller)
    fund(paid, buyer)
    response = run_action(staff_client, "escrow", "cancel", [unpaid.pk, paid.pk])
    html = response.content.decode()
    assert "Cancelled: 1" in html and "Only an escrow that is awaiting payment can be cancelled" in html
    assert refresh(unpaid).status == EscrowStatus.CANCELLED
    assert refresh(paid).status == EscrowStatus.OPENED
    assert refresh(unpaid).events.filter(kind="escrow.cancelled", actor_kind="admin").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "status", "seller_gets"),
    [
        ("resolve_release", MilestoneStatus.RELEASED, 80_000),
        ("resolve_refund", MilestoneStatus.REFUNDED, 30_000),
    ],
)
def test_resolve_dispute_actions(staff_client, seller, buyer, action, status, seller_gets):
    from escrows.selectors import wallet_balance

    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first, second, _ = milestones(escrow)
    services.milestone_release(milestone=first, by=buyer)
    dispute = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="late")
    run_action(staff_client, "dispute", action, [dispute.pk])
    assert refresh(second).status == status
    assert refresh(dispute).status == "RESOLVED"
    assert wallet_balance(seller, "USD") == seller_gets
    assert staff_client.get(f"/admin/escrows/dispute/{dispute.pk}/change/").status_code == 200
    assert_ledger_invariants()


@pytest.mark.django_db
def test_retry_failed_settlement_action(staff_client, seller, django_capture_on_commit_callbacks):
    services.wallet_topup(customer=seller, amount=5000, currency="USD")
    with django_capture_on_commit_callbacks(execute=True):
        settlement = services.wallet_withdraw(
            customer=seller, amount=1000, currency="USD", destination="reject-me"
        )
    assert refresh(settlement).status == SettlementStatus.FAILED
    with django_capture_on_commit_callbacks(execute=False):
        response = run_action(staff_client, "settlement", "retry", [settlement.pk])
    assert "Retried: 1" in response.content.decode()
    assert Settlement.objects.get(pk=settlement.pk).status == SettlementStatus.SCHEDULED
    assert_ledger_invariants()
