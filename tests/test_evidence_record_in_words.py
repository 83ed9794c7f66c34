"""The evidence record's page reads as words: each event's details as labelled values (money in
its currency, stages counted from 1, times as dates, durations in days or hours), each posting's
entries as whose account, and each status in the word its page uses."""

import pytest

from escrows import selectors, services
from escrows.ledger import clearing_account, customer_account, hold_account, platform_account
from escrows.models import AccountKind
from escrows.selectors import _account_words, _detail_value, _status_words
from tests.helpers import fund, make_escrow, milestones

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
