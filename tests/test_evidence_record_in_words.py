"""The evidence record's page reads as words: each event's details as labelled values (money in
its currency, stages counted from 1, times as dates, durations in days or hours), each posting's
entries as whose account, and each status in the word its page uses."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escrows import selectors, services
from escrows.ledger import clearing_account, customer_account, hold_account, platform_account
from escrows.models import AccountKind, ActorKind, Event, LedgerTransaction
from escrows.selectors import _account_words, _detail_value, _status_words
from escrows.services import EscrowTerms, MilestoneInput
from tests.helpers import at, fund, make_escrow, make_standard, milestones

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("amount", 12_345, "123.45 USD"),
        ("held", 0, "0.00 USD"),
        ("amount", True, "yes"),
        ("amount", "12345", "12345"),
        ("index", 0, "1"),
        ("index", 2, "3"),
        ("index", "2", "2"),
        ("round", 2, "2"),
        ("source", "WALLET", "Wallet balance"),
        ("paidFrom", "CARD", "Card (test gateway)"),
        ("source", "BANK", "BANK"),
        ("method", "WALLET", "WALLET"),
        ("extensionSeconds", 2 * 86_400, "2 days"),
        ("extensionSeconds", 86_400, "1 days"),
        ("extensionSeconds", 7_200, "2 hours"),
        ("extensionSeconds", 90_000, "25 hours"),
        ("extensionSeconds", "7200", "7200"),
        ("seconds", 7_200, "7200"),
        ("deadline", "2026-12-04T23:00:40Z", "4 Dec 2026, 23:00 UTC"),
        ("dueDate", "2026-01-09T08:05:00+00:00", "9 Jan 2026, 08:05 UTC"),
        ("deadline", "soon", "soon"),
        ("deadline", 5, "5"),
        ("reference", "2026-12-04T23:00:40Z", "2026-12-04T23:00:40Z"),
        ("openedBy", "buyer", "the buyer"),
        ("role", "seller", "the seller"),
        ("answeredBy", "cus_123", "cus_123"),
        ("completedBy", "seller", "seller"),
        ("accepted", False, "no"),
        ("accepted", True, "yes"),
        ("stages", [1, 2], "1, 2"),
        ("split", {"seller": 1, "buyer": 2}, "seller: 1; buyer: 2"),
    ],
)
def test_a_detail_in_words(key, value, words):
    assert _detail_value(key, value, "USD") == words


def test_a_milestones_status_in_the_words_of_its_page_and_an_escrows_in_its_own():
    escrow_words, stage_words = _status_words(), _status_words(of_milestone=True)
    assert (escrow_words["COMPLETED"], stage_words["COMPLETED"]) == ("Completed", "Delivered")
    assert (escrow_words["OPENED"], stage_words["PENDING"], stage_words["RELEASED"]) == (
        "Opened",
        "Pending",
        "Released",
    )
    assert (escrow_words["PAID"], escrow_words["ANSWERED"], escrow_words["PROPOSED"]) == (
        "Paid",
        "Answered",
        "Proposed",
    )
    assert escrow_words["REQUESTED"] == "Requested"


def test_each_account_by_whose_it_is(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    assert _account_words(hold_account(escrow), escrow) == "Held in this escrow"
    assert _account_words(customer_account(seller, "USD"), escrow) == f"{seller.display_name}'s balance"
    assert (
        _account_words(clearing_account(seller, "USD"), escrow)
        == f"{seller.display_name}'s payouts in flight"
    )
    assert _account_words(platform_account(AccountKind.PLATFORM_FEES, "USD"), escrow) == "Platform fees"


def test_a_stage_delivered_and_released_reads_as_its_page_says(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    services.milestone_release(milestone=first, by=buyer)
    readable = selectors.evidence_export_readable(escrow, buyer, selectors.evidence_export(escrow))
    changes = [e["change"] for e in readable["events"] if e["change"]]
    assert "Pending → Delivered" in changes and "Delivered → Released" in changes
    assert "Awaiting payment → Opened" in changes
    funding = next(p for p in readable["postings"] if p["what"] == "Escrow funded")
    assert ("Held in this escrow", "1,000.00 USD") in funding["entries"]
    release = next(p for p in readable["postings"] if p["what"] == "Milestone released")
    assert release["entries"] == [
        ("Held in this escrow", "-300.00 USD"),
        (f"{seller.display_name}'s balance", "300.00 USD"),
    ]


def day(n: int) -> datetime:
    return datetime(2026, 3, n, 12, tzinfo=UTC)


@pytest.fixture
def disputed_logo(seller, buyer, admin_user):
    """A three-stage escrow, the first titled, the others not: the first is delivered, its review
    extended, disputed and the dispute withdrawn, then released; the second is disputed and split
    by staff; the buyer asks for the third back and the seller declines. One step a day."""
    with at(day(1)):
        escrow = services.escrow_create(
            seller=seller,
            buyer=buyer,
            terms=EscrowTerms(title="Logo", currency="USD", amount=60_000),
            milestones=[
                MilestoneInput(amount=20_000, title="Sketches"),
                MilestoneInput(amount=30_000),
                MilestoneInput(amount=10_000),
            ],
        )
    with at(day(2)):
        fund(escrow, buyer)
    first, second, third = milestones(escrow)
    with at(day(3)):
        services.milestone_complete(milestone=first, by=seller, proof="Three sketches")
    with at(day(4)):
        services.milestone_review_extend(milestone=first, by=buyer)
    with at(day(5)):
        withdrawn = services.dispute_open(
            escrow=escrow, by=buyer, reason="Only two sketches", milestone=first
        )
    with at(day(6)):
        services.dispute_withdraw(dispute=withdrawn, by=buyer)
    with at(day(7)):
        services.milestone_release(milestone=first, by=buyer)
    with at(day(8)):
        split = services.dispute_open(escrow=escrow, by=buyer, reason="Not what we agreed", milestone=second)
    with at(day(9)):
        services.dispute_resolve(
            dispute=split,
            by=admin_user,
            outcome="split",
            seller_amount=18_000,
            buyer_amount=12_000,
            note="Half",
        )
    with at(day(10)):
        request = services.refund_request_create(
            escrow=escrow, by=buyer, reason="No longer needed", milestones=[third]
        )
    with at(day(11)):
        services.refund_request_decline(refund_request=request, by=seller, reason="Already started")
    return escrow


def unordered(events):
    return [{**e, "details": sorted(e["details"])} for e in events]


def test_every_event_of_the_record_in_words_as_the_buyer_reads_it(disputed_logo, seller, buyer):
    readable = selectors.evidence_export_readable(
        disputed_logo, buyer, selectors.evidence_export(disputed_logo)
    )
    assert sorted(readable) == ["disputes", "events", "postings", "terms"]
    them = seller.display_name
    staff = "Milestone Escrow staff"
    extended = [
        "Stage: 1",
        "Previous deadline: 17 Mar 2026, 12:00 UTC",
        "Review ends: 24 Mar 2026, 12:00 UTC",
        "Extended by: 7 days",
    ]
    opened_split = [
        "Opened by: the buyer",
        "Amount: 300.00 USD",
        "Deadline: 22 Mar 2026, 12:00 UTC",
        "Default outcome: split",
        "Default to the seller: 150.00 USD",
        "Default to the buyer: 150.00 USD",
    ]
    ruled = ["To the seller: 180.00 USD", "To the buyer: 120.00 USD"]
    # PostgreSQL keeps a JSON object's keys in its own order, so each event's details compare as a set.
    assert unordered(readable["events"]) == unordered(
        [
            {
                "at": day(1),
                "what": "Escrow created",
                "who": them,
                # Only a status after: an escrow has none before it exists.
                "change": "Awaiting payment",
                # A key without a label of its own reads capitalised.
                "details": [
                    "Amount: 600.00 USD",
                    "Fee: 9.00 USD",
                    "Currency: USD",
                    "Fee schedule: 2026-11-v1",
                ],
            },
            {
                "at": day(2),
                "what": "Funded",
                "who": "you",
                "change": "Awaiting payment → Opened",
                "details": [
                    "609.00 USD paid, including the fee.",
                    "Paid from: Wallet balance",
                    "Charged: 609.00 USD",
                    "Terms version: 1",
                ],
            },
            {
                "at": day(3),
                "what": "Marked delivered · Sketches",
                "who": them,
                "change": "Pending → Delivered",
                # The empty "delivered by" and "link to the work" are left out.
                "details": [
                    "Stage: 1",
                    "Delivery note: Three sketches",
                    "Review ends: 17 Mar 2026, 12:00 UTC",
                ],
            },
            {
                "at": day(4),
                "what": "Review extended · Sketches",
                "who": "you",
                "change": "",
                "details": extended,
            },
            {
                "at": day(5),
                "what": "Milestone disputed · Sketches",
                "who": "you",
                "change": "Delivered → Disputed",
                "details": ["“Only two sketches”", "Stage: 1", "Amount: 200.00 USD"],
            },
            {
                "at": day(5),
                "what": "Dispute opened · Sketches",
                "who": "you",
                "change": "Open",
                "details": [
                    "Opened by: the buyer",
                    "Amount: 200.00 USD",
                    "Deadline: 19 Mar 2026, 12:00 UTC",
                    "Default outcome: split",
                    "Default to the seller: 100.00 USD",
                    "Default to the buyer: 100.00 USD",
                ],
            },
            {
                "at": day(6),
                "what": "Milestone back in progress · Sketches",
                "who": "you",
                "change": "Disputed → Delivered",
                "details": ["Stage: 1"],
            },
            {
                "at": day(6),
                "what": "Dispute withdrawn · Sketches",
                "who": "you",
                "change": "Open → Withdrawn",
                "details": ["Withdrawn by: the buyer"],
            },
            {
                "at": day(7),
                "what": "Released · Sketches",
                "who": "you",
                "change": "Delivered → Released",
                "details": ["Stage: 1", "Amount: 200.00 USD"],
            },
            {
                "at": day(8),
                "what": "Milestone disputed · Stage 2",
                "who": "you",
                "change": "Pending → Disputed",
                "details": ["“Not what we agreed”", "Stage: 2", "Amount: 300.00 USD"],
            },
            {
                "at": day(8),
                "what": "Dispute opened · Stage 2",
                "who": "you",
                "change": "Open",
                "details": opened_split,
            },
            {
                "at": day(9),
                "what": "Split between seller and buyer · Stage 2",
                "who": staff,
                "change": "Disputed → Split",
                "details": ["By the dispute's ruling.", "Stage: 2", "Amount: 300.00 USD", *ruled],
            },
            {
                "at": day(9),
                "what": "Dispute resolved · Stage 2",
                "who": staff,
                "change": "Open → Resolved",
                "details": ["Outcome: split", *ruled],
            },
            {
                "at": day(10),
                "what": "Refund requested",
                "who": "you",
                "change": "",
                "details": ["100.00 USD.", "“No longer needed”", "Amount: 100.00 USD"],
            },
            {
                "at": day(11),
                "what": "Refund request declined",
                "who": them,
                "change": "",
                "details": ["“Already started”"],
            },
        ]
    )


def test_every_posting_and_dispute_of_the_record_in_words(disputed_logo, seller, buyer):
    record = selectors.evidence_export(disputed_logo)
    readable = selectors.evidence_export_readable(disputed_logo, seller, record)
    funding, release, split = LedgerTransaction.objects.filter(escrow=disputed_logo).order_by("id")
    sellers, buyers = f"{seller.display_name}'s balance", f"{buyer.display_name}'s balance"
    assert readable["postings"] == [
        {
            "number": funding.pk,
            "at": day(2),
            "what": "Escrow funded",
            "entries": [
                (buyers, "-609.00 USD"),
                ("Held in this escrow", "600.00 USD"),
                ("Platform fees", "9.00 USD"),
            ],
        },
        {
            "number": release.pk,
            "at": day(7),
            "what": "Milestone released",
            "entries": [("Held in this escrow", "-200.00 USD"), (sellers, "200.00 USD")],
        },
        {
            "number": split.pk,
            "at": day(9),
            "what": "Split between payee and buyer",
            "entries": [
                ("Held in this escrow", "-180.00 USD"),
                (sellers, "180.00 USD"),
                ("Held in this escrow", "-120.00 USD"),
                (buyers, "120.00 USD"),
            ],
        },
    ]
    withdrawn, ruled = record["disputes"]
    assert readable["disputes"] == [
        {"record": withdrawn, "stage": "Stage 1 · Sketches", "status": "Withdrawn"},
        {"record": ruled, "stage": "Stage 2", "status": "Resolved"},
    ]


def test_a_dispute_over_the_whole_escrow_names_no_stage(seller, buyer):
    escrow = make_standard(seller)
    fund(escrow, buyer)
    services.dispute_open(escrow=escrow, by=buyer, reason="Never arrived")
    record = selectors.evidence_export(escrow)
    [dispute] = selectors.evidence_export_readable(escrow, buyer, record)["disputes"]
    assert dispute == {"record": record["disputes"][0], "stage": "", "status": "Open"}


def test_event_rows_as_an_import_may_have_written_them(seller, buyer):
    """Nobody named, a status no list knows, details that are not a mapping, a detail without a
    label of its own: each still reads."""
    escrow = make_escrow(seller, buyer=buyer)
    with at(day(1)):
        Event.objects.create(
            kind="escrow.archived",
            escrow=escrow,
            actor_kind=ActorKind.USER,
            from_status="OPENED",
            to_status="ARCHIVED",
            details=["archived"],
        )
    with at(day(2)):
        Event.objects.create(
            kind="escrow.imported", escrow=escrow, actor_kind=ActorKind.USER, details={"batchSize": 3}
        )
    events = selectors.evidence_export_readable(escrow, buyer, selectors.evidence_export(escrow))["events"]
    assert [e for e in events if e["at"] in (day(1), day(2))] == [
        {"at": day(1), "what": "Escrow archived", "who": "—", "change": "Opened → ARCHIVED", "details": []},
        {"at": day(2), "what": "Escrow imported", "who": "—", "change": "", "details": ["BatchSize: 3"]},
    ]


def test_the_postings_entries_are_read_at_once_however_many_postings(disputed_logo, buyer):
    record = selectors.evidence_export(disputed_logo)
    with CaptureQueriesContext(connection) as queries:
        selectors.evidence_export_readable(disputed_logo, buyer, record)
    entry_reads = [q["sql"] for q in queries.captured_queries if 'FROM "escrows_ledgerentry"' in q["sql"]]
    assert len(entry_reads) == 1
