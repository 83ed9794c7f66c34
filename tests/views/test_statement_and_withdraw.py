"""The balance page's statement, its period filter and CSV export, and Withdraw, which shows
exactly what will be paid out where and asks once (a page without JavaScript, the same words in
a dialog with it) before anything moves."""

import csv
import io

import pytest
from django.urls import reverse

from escrows import services
from escrows.models import Settlement
from escrows.selectors import wallet_balance
from tests.helpers import assert_ledger_invariants, fund, ledger_fingerprint, make_escrow, milestones

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    return escrow


def test_the_page_lists_the_movements_and_totals(sold, seller_client):
    html = seller_client.get(reverse("balance")).content.decode()
    assert 'data-statement-row="RELEASE"' in html
    assert "Released to you: “Stage 0” of “Website build”" in html
    assert reverse("escrow_detail", args=[sold.public_id]) in html
    assert "data-receipt-link" in html
    assert "Held in escrow for you" in html and "700.00 USD" in html
    assert "Being paid out" in html and "Held for your purchases" in html
    assert "minor units" not in html


def test_a_period_the_wrong_way_round_is_refused_in_words(sold, seller_client):
    response = seller_client.get(reverse("balance"), {"date_from": "2026-03-05", "date_to": "2026-03-01"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "The end date must be on or after the start date (5 Mar 2026)." in html
    # What was typed stays in the form.
    assert 'value="2026-03-05"' in html and 'value="2026-03-01"' in html


def test_a_date_that_is_not_a_date(sold, seller_client):
    response = seller_client.get(reverse("balance"), {"date_from": "31/02/2026"})
    assert "Enter a date as year-month-day, for example 2026-12-31." in response.content.decode()
    csv_response = seller_client.get(reverse("balance_statement_csv"), {"date_from": "yesterday"})
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/html")


def test_the_csv_has_the_same_rows_as_money(sold, buyer, buyer_client):
    response = buyer_client.get(reverse("balance_statement_csv"), {"order": "oldest"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="statement.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "Date (UTC)",
        "Type",
        "Description",
        "Escrow",
        "Currency",
        "Amount",
        "Of which fee",
        "Balance after",
    ]
    charge = f"{sold.total_charge / 100:.2f}"
    fee = f"{sold.fee / 100:.2f}"
    assert [r[1:] for r in rows[1:]] == [
        ["Top-up", "Test funds added to your balance", "", "USD", charge, "", charge],
        [
            "Payment",
            f"You paid “Website build” from your balance: 1,000.00 USD + {fee} USD fee",
            sold.public_id,
            "USD",
            f"-{charge}",
            fee,
            "0.00",
        ],
    ]


def test_the_csv_follows_the_period(sold, seller_client):
    response = seller_client.get(reverse("balance_statement_csv"), {"date_to": "2000-01-01"})
    assert response["Content-Disposition"] == 'attachment; filename="statement-to-2000-01-01.csv"'
    assert len(list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))) == 1


def test_pages_of_the_statement(seller, seller_client):
    for _ in range(27):
        services.wallet_topup(customer=seller, amount=100, currency="USD")
    first = seller_client.get(reverse("balance")).content.decode()
    assert first.count("data-statement-row=") == 25 and "Page 1 of 2" in first
    second = seller_client.get(reverse("balance"), {"page": 2}).content.decode()
    assert second.count("data-statement-row=") == 2


WITHDRAW = {"currency": "USD", "amount": "120.50", "destination": "bank-123"}


def test_withdraw_shows_what_will_happen_and_moves_nothing(sold, seller, seller_client):
    before = ledger_fingerprint()
    response = seller_client.get(reverse("balance_withdraw"), WITHDRAW)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Pay out 120.50 USD to bank-123?" in html
    assert "Your available balance goes from 300.00 USD to 179.50 USD." in html
    assert 'method="post"' in html and "data-confirm-withdraw" in html
    assert 'name="amount" value="120.50"' in html
    assert ledger_fingerprint() == before


def test_the_dialog_gets_the_same_confirmation(sold, seller_client):
    response = seller_client.get(reverse("balance_withdraw"), WITHDRAW, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<dialog" in html and "Pay out 120.50 USD to bank-123?" in html and "<html" not in html
    wrong = seller_client.get(
        reverse("balance_withdraw"), {**WITHDRAW, "amount": "5000"}, headers={"HX-Request": "true"}
    )
    assert wrong.status_code == 204


def test_withdraw_posts_once_and_pays_out(sold, seller, seller_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = seller_client.post(reverse("balance_withdraw"), WITHDRAW)
    assert response.status_code == 302 and response["Location"] == reverse("balance")
    settlement = Settlement.objects.get(customer=seller)
    assert (settlement.amount, settlement.destination) == (12_050, "bank-123")
    assert wallet_balance(seller, "USD") == 17_950
    html = seller_client.get(reverse("balance")).content.decode()
    assert "Payout of 120.50 USD scheduled to bank-123." in html
    assert_ledger_invariants()


def test_more_than_is_available_is_refused_beside_the_field(sold, seller_client):
    before = ledger_fingerprint()
    for send in (seller_client.get, seller_client.post):
        response = send(reverse("balance_withdraw"), {**WITHDRAW, "amount": "5000"})
        html = response.content.decode()
        assert response.status_code == 200
        assert (
            "Insufficient available balance: you have 300.00 USD, so you cannot withdraw 5,000.00 USD."
            in html
        )
        assert 'value="bank-123"' in html
    response = seller_client.get(reverse("balance_withdraw"), {**WITHDRAW, "amount": "abc"})
    assert "minor units" not in response.content.decode() and 'value="abc"' in response.content.decode()
    assert ledger_fingerprint() == before


def test_withdraw_needs_a_login(client):
    response = client.get(reverse("balance_withdraw"), WITHDRAW)
    assert response.status_code == 302 and "next=" in response["Location"]
