"""Refund and mutual-cancellation pages: the escrow page offers what each party may do, money
moves only after a confirmation step, errors come back as messages or form errors."""

import pytest
from django.urls import reverse

from escrows import services
from escrows.models import (
    CancellationProposal,
    CancellationStatus,
    EscrowStatus,
    MilestoneStatus,
    RefundRequest,
    RefundRequestStatus,
)
from escrows.selectors import wallet_balance
from tests.helpers import assert_ledger_invariants, ledger_fingerprint, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db


def page(client, escrow):
    return client.get(reverse("escrow_detail", args=[escrow.public_id])).content.decode()


def test_escrow_page_offers_each_party_their_actions(funded, seller_client, buyer_client):
    seller_page = page(seller_client, funded)
    assert 'data-action="refund-milestones"' in seller_page
    assert 'data-action="propose-cancellation"' in seller_page
    assert 'data-action="request-refund"' not in seller_page
    buyer_page = page(buyer_client, funded)
    assert 'data-action="request-refund"' in buyer_page
    assert 'data-action="propose-cancellation"' in buyer_page
    assert 'data-action="refund-milestones"' not in buyer_page
    assert "1,000.00 USD" in buyer_page


def test_unfunded_escrow_offers_nothing(seller, buyer, seller_client):
    escrow = make_escrow(seller, buyer=buyer)
    html = page(seller_client, escrow)
    assert "data-refunds" not in html


def test_seller_refund_needs_the_confirmation_step(funded, seller_client, buyer):
    second = milestones(funded)[1]
    path = reverse("milestones_refund", args=[funded.public_id])
    form = seller_client.get(path)
    assert form.status_code == 200
    assert second.public_id in form.content.decode()
    before = ledger_fingerprint()
    review = seller_client.post(path, {"milestones": [second.public_id], "reason": "Out of scope"})
    assert review.status_code == 200
    html = review.content.decode()
    assert "Refund 500.00 USD to the buyer&#x27;s balance?" in html
    assert 'name="confirm" value="yes"' in html
    assert ledger_fingerprint() == before  # nothing moved yet
    done = seller_client.post(
        path, {"milestones": [second.public_id], "reason": "Out of scope", "confirm": "yes"}, follow=True
    )
    assert "Refunded 500.00 USD" in done.content.decode()
    assert refresh(second).status == MilestoneStatus.REFUNDED
    assert wallet_balance(buyer, "USD") == 50_000
    assert_ledger_invariants()


def test_refund_form_requires_a_choice(funded, seller_client):
    r = seller_client.post(reverse("milestones_refund", args=[funded.public_id]), {"confirm": "yes"})
    assert r.status_code == 200
    assert "This field is required" in r.content.decode()


def test_buyer_cannot_open_the_seller_refund_page(funded, buyer_client):
    r = buyer_client.get(reverse("milestones_refund", args=[funded.public_id]), follow=True)
    assert "nothing you can refund" in r.content.decode()


def test_buyer_requests_seller_declines_then_accepts(funded, buyer_client, seller_client, buyer):
    path = reverse("refund_request_new", args=[funded.public_id])
    missing = buyer_client.post(path, {"reason": ""})
    assert missing.status_code == 200 and "This field is required" in missing.content.decode()
    third = milestones(funded)[2]
    r = buyer_client.post(path, {"reason": "Not needed", "milestones": [third.public_id]}, follow=True)
    assert "Asked the seller to refund 200.00 USD" in r.content.decode()
    request = RefundRequest.objects.get()
    seller_page = page(seller_client, funded)
    assert 'data-action="accept-refund"' in seller_page and "Not needed" in seller_page
    assert 'data-action="withdraw-refund"' in page(buyer_client, funded)
    seller_client.post(
        reverse("refund_request_decline", args=[funded.public_id, request.public_id]), {"reason": "On it"}
    )
    assert refresh(request).status == RefundRequestStatus.DECLINED
    assert "On it" in page(buyer_client, funded)
    buyer_client.post(path, {"reason": "Please", "milestones": [third.public_id]})
    request = RefundRequest.objects.get(status=RefundRequestStatus.REQUESTED)
    accept = reverse("refund_request_accept", args=[funded.public_id, request.public_id])
    confirm = seller_client.get(accept)
    assert "Refund 200.00 USD to the buyer&#x27;s balance?" in confirm.content.decode()
    assert wallet_balance(buyer, "USD") == 0
    seller_client.post(accept)
    assert refresh(request).status == RefundRequestStatus.ACCEPTED
    assert wallet_balance(buyer, "USD") == 20_000
    assert_ledger_invariants()


def test_buyer_withdraws_and_cannot_accept(funded, buyer_client, buyer):
    request = services.refund_request_create(escrow=funded, by=buyer, reason="x")
    accept = buyer_client.get(reverse("refund_request_accept", args=[funded.public_id, request.public_id]))
    assert accept.status_code == 302
    r = buyer_client.post(
        reverse("refund_request_accept", args=[funded.public_id, request.public_id]), follow=True
    )
    assert "Only the seller can accept" in r.content.decode()
    buyer_client.post(reverse("refund_request_withdraw", args=[funded.public_id, request.public_id]))
    assert refresh(request).status == RefundRequestStatus.WITHDRAWN


def test_proposal_form_checks_the_split_on_the_server(funded, buyer_client):
    path = reverse("cancellation_new", args=[funded.public_id])
    html = buyer_client.get(path).content.decode()
    assert 'data-held="100000"' in html and "js/refunds.js" in html
    r = buyer_client.post(path, {"buyer_amount": "600.00", "seller_amount": "300.00"})
    assert r.status_code == 200
    assert "must add up to what is held, 1,000.00 USD" in r.content.decode()
    r = buyer_client.post(path, {"buyer_amount": "abc", "seller_amount": "400"})
    html = r.content.decode()
    assert r.status_code == 200 and "Enter an amount as a number, such as 300.00." in html
    assert "decimal string" not in html
    assert not CancellationProposal.objects.exists()


def test_buyer_proposes_seller_accepts_after_confirmation(funded, buyer_client, seller_client, seller, buyer):
    buyer_client.post(
        reverse("cancellation_new", args=[funded.public_id]),
        {"buyer_amount": "600.00", "seller_amount": "400.00", "note": "Parting ways"},
    )
    proposal = CancellationProposal.objects.get()
    assert 'data-action="withdraw-cancellation"' in page(buyer_client, funded)
    assert 'data-action="accept-cancellation"' not in page(buyer_client, funded)
    seller_page = page(seller_client, funded)
    assert 'data-action="accept-cancellation"' in seller_page and "Parting ways" in seller_page
    accept = reverse("cancellation_accept", args=[funded.public_id, proposal.public_id])
    confirm = seller_client.get(accept).content.decode()
    assert "600.00 USD" in confirm and "400.00 USD" in confirm
    assert refresh(funded).status == EscrowStatus.OPENED
    r = seller_client.post(accept, follow=True)
    assert "Escrow cancelled by agreement" in r.content.decode()
    assert refresh(funded).status == EscrowStatus.CANCELLED
    assert refresh(proposal).status == CancellationStatus.ACCEPTED
    assert wallet_balance(buyer, "USD") == 60_000 and wallet_balance(seller, "USD") == 40_000
    timeline = page(buyer_client, funded)
    assert "Mutual cancellation accepted" in timeline
    assert timeline.count("Split between buyer and seller") == 3
    assert_ledger_invariants()


def test_decline_and_withdraw_proposal(funded, buyer_client, seller_client, seller):
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=100_000, seller_amount=0)
    r = seller_client.post(reverse("cancellation_decline", args=[funded.public_id, p.public_id]), follow=True)
    assert "Only the other party" in r.content.decode()
    buyer_client.post(reverse("cancellation_decline", args=[funded.public_id, p.public_id]))
    assert refresh(p).status == CancellationStatus.DECLINED
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=100_000, seller_amount=0)
    seller_client.post(reverse("cancellation_withdraw", args=[funded.public_id, p.public_id]))
    assert refresh(p).status == CancellationStatus.WITHDRAWN


def test_strangers_get_404_on_every_page(funded, buyer, seller, stranger_client):
    rq = services.refund_request_create(escrow=funded, by=buyer, reason="x")
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=100_000, seller_amount=0)
    eid = funded.public_id
    gets = [
        reverse("milestones_refund", args=[eid]),
        reverse("refund_request_new", args=[eid]),
        reverse("refund_request_accept", args=[eid, rq.public_id]),
        reverse("refund_request_decline", args=[eid, rq.public_id]),
        reverse("cancellation_new", args=[eid]),
        reverse("cancellation_accept", args=[eid, p.public_id]),
    ]
    posts = [
        *gets,
        reverse("refund_request_withdraw", args=[eid, rq.public_id]),
        reverse("cancellation_decline", args=[eid, p.public_id]),
        reverse("cancellation_withdraw", args=[eid, p.public_id]),
    ]
    for path in gets:
        assert stranger_client.get(path).status_code == 404, path
    before = ledger_fingerprint()
    for path in posts:
        assert stranger_client.post(path, {"confirm": "yes", "reason": "x"}).status_code == 404, path
    assert ledger_fingerprint() == before


def test_admin_lists_requests_and_proposals_read_only_and_links_them_from_the_escrow(
    funded, seller, buyer, admin_user
):
    from django.test import Client

    staff = Client()
    staff.force_login(admin_user)
    rq = services.refund_request_create(escrow=funded, by=buyer, reason="Slow")
    p = services.cancellation_propose(escrow=funded, by=seller, buyer_amount=60_000, seller_amount=40_000)
    listing = staff.get(reverse("admin:escrows_refundrequest_changelist")).content.decode()
    assert rq.public_id in listing and "1,000.00 USD" in listing
    listing = staff.get(reverse("admin:escrows_cancellationproposal_changelist")).content.decode()
    assert p.public_id in listing and "600.00 USD" in listing and "400.00 USD" in listing
    detail = staff.get(reverse("admin:escrows_cancellationproposal_change", args=[p.pk])).content.decode()
    assert 'name="buyer_amount"' not in detail  # money is shown, never editable
    assert reverse("admin:escrows_escrow_change", args=[funded.pk]) in detail
    escrow_page = staff.get(reverse("admin:escrows_escrow_change", args=[funded.pk])).content.decode()
    assert rq.public_id in escrow_page and p.public_id in escrow_page
    assert reverse("admin:escrows_refundrequest_change", args=[rq.pk]) in escrow_page
    assert staff.get(reverse("admin:escrows_refundrequest_add")).status_code == 403
