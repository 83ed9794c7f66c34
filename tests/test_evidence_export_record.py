"""The evidence export is the whole record of an escrow, field by field: the escrow and its
parties, each stage, every event with its actor, every ledger posting with whose account each
entry moved, and each dispute with its answer, ruling and evidence (with the hashes that prove
it unchanged); its own SHA-256 covers all of it. It reads a fixed number of queries."""

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from escrows import selectors, services
from escrows.models import Event, LedgerTransaction
from escrows.services import EvidenceInput
from tests.factories import UserFactory
from tests.helpers import fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


@pytest.fixture
def disputed(settings, tmp_path, seller, buyer, admin_user):
    settings.MEDIA_ROOT = str(tmp_path)
    escrow = make_escrow(seller, buyer=buyer, description="Five pages")
    fund(escrow, buyer)
    first, second, _ = milestones(escrow)
    services.milestone_complete(milestone=first, by=seller, proof="staging link")
    services.milestone_release(milestone=first, by=buyer)
    dispute = services.dispute_open(
        escrow=escrow, milestone=second, by=buyer, reason="Late", evidence=EvidenceInput(text="No build")
    )
    upload = SimpleUploadedFile("invoice.pdf", b"%PDF-1.4 invoice", content_type="application/pdf")
    services.dispute_add_evidence(
        dispute=dispute, by=seller, evidence=EvidenceInput(text="Sent", url="https://x.test/a", file=upload)
    )
    services.dispute_answer(dispute=dispute, by=seller, answer="contest", text="It was on time")
    services.dispute_resolve(
        dispute=dispute,
        by=admin_user,
        outcome="split",
        seller_amount=20_000,
        buyer_amount=30_000,
        note="Half",
    )
    return refresh(escrow), refresh(dispute)


def test_the_escrow_parties_and_stages(disputed, seller, buyer):
    escrow, _ = disputed
    record = selectors.evidence_export(escrow)
    assert record["object"] == "evidence_export"
    assert record["escrow"] == {
        "id": escrow.public_id,
        "title": "Website build",
        "description": "Five pages",
        "status": escrow.status,
        "settlementType": "MILESTONE",
        "currency": "USD",
        "amount": "1000.00",
        "fee": f"{escrow.fee / 100:.2f}",
        "feeScheduleVersion": escrow.fee_schedule_version,
        "inspectionPeriodDays": 14,
        "createdAt": iso(escrow.created_at),
        "fundedAt": iso(escrow.funded_at),
        "closedAt": iso(escrow.closed_at),
    }
    person = lambda u: {"id": u.customer_id, "name": u.display_name, "email": u.email}  # noqa: E731
    assert record["parties"] == {"seller": person(seller), "buyer": person(buyer)}
    assert record["milestones"] == [
        {
            "id": m.public_id,
            "index": m.index,
            "title": m.title,
            "amount": f"{m.amount / 100:.2f}",
            "releasedPart": "0.00",
            "status": m.status,
            "payee": None,
            "dueDate": None,
            "dueReminderSentAt": None,
            "overdueNotifiedAt": None,
            "completionProof": m.completion_proof or None,
            "completionProofURI": m.completion_proof_uri or None,
            "completedAt": iso(m.completed_at),
            "releasedAt": iso(m.released_at),
            "refundedAt": iso(m.refunded_at),
        }
        for m in milestones(escrow)
    ]
    assert record["milestones"][0]["completionProof"] == "staging link"


def test_every_event_and_posting(disputed, seller, admin_user):
    escrow, _ = disputed
    record = selectors.evidence_export(escrow)
    events = list(Event.objects.filter(escrow=escrow).order_by("id"))
    assert record["events"] == [
        {
            "id": ev.public_id,
            "type": ev.kind,
            "at": iso(ev.created_at),
            "actor": (
                # Staff who are not a party are named only as staff: the parties read this record.
                {"kind": "staff", "id": None, "name": "Milestone Escrow staff"}
                if ev.actor_id == admin_user.pk
                else {
                    "kind": ev.actor_kind,
                    "id": ev.actor.customer_id if ev.actor_id else None,
                    "name": ev.actor.display_name if ev.actor_id else None,
                }
            ),
            "milestoneId": ev.milestone.public_id if ev.milestone_id else None,
            "fromStatus": ev.from_status or None,
            "toStatus": ev.to_status or None,
            "details": ev.details,
        }
        for ev in events
    ]
    assert any(e["actor"]["kind"] == "staff" for e in record["events"])
    released = next(e for e in record["events"] if e["type"] == "milestone.released")
    assert released["actor"]["kind"] == "user" and released["fromStatus"] == "COMPLETED"
    postings = list(LedgerTransaction.objects.filter(escrow=escrow).order_by("id"))
    assert [p["id"] for p in record["ledger"]] == [t.pk for t in postings]
    funding = record["ledger"][0]
    assert (funding["kind"], funding["memo"], funding["milestoneId"]) == ("FUNDING", postings[0].memo, None)
    assert funding["at"] == iso(postings[0].created_at)
    owners = {(e["kind"], e["owner"]) for p in record["ledger"] for e in p["entries"]}
    assert ("ESCROW_HOLD", escrow.public_id) in owners
    assert ("CUSTOMER_MAIN", seller.customer_id) in owners
    assert ("PLATFORM_FEES", "platform") in owners
    release = next(p for p in record["ledger"] if p["kind"] == "RELEASE")
    assert release["milestoneId"] == milestones(escrow)[0].public_id
    assert sorted(e["amount"] for e in release["entries"]) == ["-300.00", "300.00"]


def test_the_dispute_its_answer_ruling_and_evidence(disputed, seller, buyer):
    escrow, dispute = disputed
    [exported] = selectors.evidence_export(escrow)["disputes"]
    first, sent = list(dispute.evidence.order_by("id"))
    assert exported == {
        "id": dispute.public_id,
        "object": "dispute",
        "escrowId": escrow.public_id,
        "milestoneId": milestones(escrow)[1].public_id,
        "status": "RESOLVED",
        "openedBy": "buyer",
        "openedById": buyer.customer_id,
        "reason": "Late",
        "amount": "500.00",
        "currency": "USD",
        "deadline": iso(dispute.deadline),
        "defaultOutcome": {
            "outcome": dispute.default_outcome,
            "sellerAmount": None
            if dispute.default_seller_amount is None
            else f"{dispute.default_seller_amount / 100:.2f}",
            "buyerAmount": None
            if dispute.default_buyer_amount is None
            else f"{dispute.default_buyer_amount / 100:.2f}",
        },
        "answer": {
            "choice": "contest",
            "text": "It was on time",
            "answeredBy": seller.customer_id,
            "answeredAt": iso(dispute.answered_at),
        },
        "resolution": {
            "outcome": "split",
            "sellerAmount": "200.00",
            "buyerAmount": "300.00",
            "resolvedBy": "staff",
            "note": "Half",
            "resolvedAt": iso(dispute.resolved_at),
        },
        "withdrawnAt": None,
        "createdAt": iso(dispute.created_at),
        "evidence": [
            {
                "id": first.public_id,
                "submittedBy": "buyer",
                "submittedById": buyer.customer_id,
                "text": "No build",
                "url": None,
                "textSha256": hashlib.sha256(b"No build\n").hexdigest(),
                "file": None,
                "createdAt": iso(first.created_at),
            },
            {
                "id": sent.public_id,
                "submittedBy": "seller",
                "submittedById": seller.customer_id,
                "text": "Sent",
                "url": "https://x.test/a",
                "textSha256": hashlib.sha256(b"Sent\nhttps://x.test/a").hexdigest(),
                "file": {
                    "name": "invoice.pdf",
                    "size": 16,
                    "contentType": "application/pdf",
                    "sha256": hashlib.sha256(b"%PDF-1.4 invoice").hexdigest(),
                },
                "createdAt": iso(sent.created_at),
            },
        ],
    }


def test_the_record_hash_covers_everything_but_itself(disputed):
    escrow, _ = disputed
    record = selectors.evidence_export(escrow)
    generated = record.pop("generatedAt")
    assert generated.endswith("Z")
    digest = record.pop("recordSha256")
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    assert digest == hashlib.sha256(canonical.encode()).hexdigest()


def test_the_export_reads_a_fixed_number_of_queries(disputed, django_assert_num_queries):
    escrow, _ = disputed
    escrow = type(escrow).objects.select_related("seller", "buyer").get(pk=escrow.pk)
    with django_assert_num_queries(10):
        selectors.evidence_export(escrow)


def test_who_resolved_a_dispute_a_party_or_the_system(seller, buyer, settings, tmp_path):
    from contextlib import contextmanager
    from unittest import mock

    @contextmanager
    def at(moment):
        with mock.patch("django.utils.timezone.now", return_value=moment):
            yield

    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    accepted = services.dispute_open(escrow=escrow, milestone=first, by=buyer, reason="Late")
    services.dispute_answer(dispute=accepted, by=seller, answer="accept")
    lapsed = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="Late")
    withdrawn = services.dispute_open(escrow=escrow, milestone=third, by=buyer, reason="Late")
    services.dispute_withdraw(dispute=withdrawn, by=buyer)
    with at(refresh(lapsed).deadline):
        services.dispute_apply_default(dispute=lapsed)
    services.escrow_refund(escrow=escrow, by=seller)  # the withdrawn stage's money, which closes it
    record = selectors.evidence_export(refresh(escrow))
    by_id = {d["id"]: d for d in record["disputes"]}
    assert by_id[accepted.public_id]["resolution"]["resolvedBy"] == seller.customer_id
    assert by_id[lapsed.public_id]["resolution"]["resolvedBy"] == "system"
    assert by_id[withdrawn.public_id]["withdrawnAt"] == iso(refresh(withdrawn).withdrawn_at)
    assert by_id[withdrawn.public_id]["resolution"] is None and by_id[withdrawn.public_id]["answer"] is None
    system_events = [e for e in record["events"] if e["actor"]["kind"] == "system"]
    assert system_events and all(
        e["actor"]["id"] is None and e["actor"]["name"] is None for e in system_events
    )
    assert record["escrow"]["closedAt"] == iso(refresh(escrow).closed_at)
    assert record["escrow"]["closedAt"] is not None


def test_a_stage_paid_to_its_own_payee_names_them(seller, buyer):
    payee = UserFactory(email="payee@example.test")
    escrow = services.escrow_create(
        seller=seller,
        terms=services.EscrowTerms(title="x", currency="USD", amount=3_000),
        milestones=[
            services.MilestoneInput(amount=1_000, payee=payee),
            services.MilestoneInput(amount=2_000),
        ],
    )
    record = selectors.evidence_export(escrow)
    assert [m["payee"] for m in record["milestones"]] == [payee.customer_id, None]
