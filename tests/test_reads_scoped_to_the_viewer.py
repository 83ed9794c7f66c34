"""Reads scoped to the viewer: an escrow list per role (both roles when none is asked for),
newest first, with its people in the same query; staff see any escrow, and only active staff;
anything else a viewer may not see, or that does not exist, is "not found" in those words;
balances are the viewer's own; the list's progress and review-clock figures."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import NotFound
from escrows import selectors, services
from escrows.models import Escrow, Milestone, MilestoneStatus
from tests.factories import UserFactory
from tests.helpers import fund, make_escrow, milestones

pytestmark = pytest.mark.django_db


def test_escrow_lists_per_role_newest_first(seller, buyer, stranger, django_assert_num_queries):
    selling = make_escrow(seller, buyer=buyer)
    buying = make_escrow(buyer, buyer=seller, title="Bought")
    make_escrow(stranger, buyer=buyer)
    Escrow.objects.filter(pk__in=[selling.pk, buying.pk]).update(created_at=timezone.now())
    with django_assert_num_queries(1):
        rows = [(e.pk, e.seller.email, e.buyer.email) for e in selectors.escrows_for_user(seller)]
    assert rows == [(buying.pk, buyer.email, seller.email), (selling.pk, seller.email, buyer.email)]
    assert [e.pk for e in selectors.escrows_for_user(seller, role="selling")] == [selling.pk]
    assert [e.pk for e in selectors.escrows_for_user(seller, role="buying")] == [buying.pk]
    Escrow.objects.filter(pk=selling.pk).update(created_at=timezone.now() + timedelta(minutes=1))
    assert [e.pk for e in selectors.escrows_for_user(seller)] == [selling.pk, buying.pk]


def test_a_payment_link_that_does_not_exist(seller, django_assert_num_queries):
    escrow = make_escrow(seller)
    with django_assert_num_queries(1):
        assert selectors.escrow_get_by_token(escrow.payment_token).seller.email == seller.email
    with pytest.raises(NotFound, match="^Escrow not found$"):
        selectors.escrow_get_by_token("no-such-token")


def test_a_party_reads_their_escrow_with_its_people_and_payment_in_one_query(
    seller, buyer, stranger, django_assert_num_queries
):
    escrow = make_escrow(seller, buyer=buyer)
    unpaid = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    with django_assert_num_queries(1):
        read = selectors.escrow_get_for_user(buyer, escrow.public_id)
        assert (read.seller.email, read.buyer.email, read.payment.payer_id) == (
            seller.email,
            buyer.email,
            buyer.pk,
        )
    with django_assert_num_queries(1):
        assert not hasattr(selectors.escrow_get_for_user(seller, unpaid.public_id), "payment")
    with pytest.raises(NotFound, match="^Escrow not found$"):
        selectors.escrow_get_for_user(stranger, escrow.public_id)
    with pytest.raises(NotFound, match="^Escrow not found$"):
        selectors.escrow_get_for_user(seller, "esc_missing")


def test_an_escrows_stages_come_in_order_with_their_payees_in_one_query(seller, django_assert_num_queries):
    payee = UserFactory(email="payee@example.test")
    escrow = services.escrow_create(
        seller=seller,
        terms=services.EscrowTerms(title="x", currency="USD", amount=3_000),
        milestones=[
            services.MilestoneInput(amount=1_000, payee=payee),
            services.MilestoneInput(amount=2_000),
        ],
    )
    with django_assert_num_queries(1):
        stages = [(m.index, m.payee.email if m.payee else None) for m in selectors.milestones_of(escrow)]
    assert stages == [(0, payee.email), (1, None)]


def test_active_staff_see_any_escrow_others_only_their_own(seller, buyer, stranger, admin_user):
    escrow = make_escrow(seller, buyer=buyer)
    assert selectors.escrow_get_for_viewer(admin_user, escrow.public_id).pk == escrow.pk
    assert selectors.escrow_get_for_viewer(buyer, escrow.public_id).pk == escrow.pk
    inactive_staff = UserFactory(is_staff=True, is_active=False)
    for viewer in (stranger, inactive_staff):
        with pytest.raises(NotFound, match="^Escrow not found$"):
            selectors.escrow_get_for_viewer(viewer, escrow.public_id)
    with pytest.raises(NotFound, match="^Escrow not found$"):
        selectors.escrow_get_for_viewer(admin_user, "esc_missing")


def test_disputes_of_an_escrow_come_with_their_people(seller, buyer, admin_user, django_assert_num_queries):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    dispute = services.dispute_open(escrow=escrow, milestone=milestones(escrow)[1], by=buyer, reason="Late")
    services.dispute_answer(dispute=dispute, by=seller, answer="contest")
    services.dispute_resolve(dispute=dispute, by=admin_user, outcome="release")
    with django_assert_num_queries(1):
        rows = [
            (d.milestone.index, d.opened_by.email, d.answered_by.email, d.resolved_by.email)
            for d in selectors.disputes_of(escrow)
        ]
    assert rows == [(1, buyer.email, seller.email, admin_user.email)]
    assert selectors.dispute_get(escrow, dispute.public_id).pk == dispute.pk
    with pytest.raises(NotFound, match="^Dispute not found$"):
        selectors.dispute_get(escrow, "dsp_missing")


def test_balances_are_the_viewers_own(seller, buyer):
    services.wallet_topup(customer=buyer, amount=900, currency="EUR")
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    assert selectors.balances_for_user(buyer) == {
        "EUR": {"available": 900, "in_flight": 0},
        "USD": {"available": 0, "in_flight": 0},
    }
    assert selectors.balances_for_user(seller) == {}
    services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    assert selectors.balances_for_user(seller) == {"USD": {"available": 30_000, "in_flight": 0}}


def test_progress_counts_what_reached_the_sellers_side(seller, buyer, admin_user):
    escrow = make_escrow(seller, buyer=buyer)
    untouched = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first, second, third = milestones(escrow)
    services.milestone_release(milestone=first, by=buyer)
    dispute = services.dispute_open(escrow=escrow, milestone=second, by=buyer, reason="Late")
    services.dispute_resolve(
        dispute=dispute, by=admin_user, outcome="split", seller_amount=1, buyer_amount=49_999
    )
    services.milestone_refund(milestone=third, by=seller)
    totals = dict(selectors.with_progress(Escrow.objects.all()).values_list("pk", "released_total"))
    assert totals == {escrow.pk: 30_001, untouched.pk: 0}


def test_the_next_review_deadline_is_the_earliest_among_delivered_stages(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    other = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    fund(other, buyer)
    first, second, third = milestones(escrow)
    soon, later = timezone.now() + timedelta(days=1), timezone.now() + timedelta(days=3)
    Milestone.objects.filter(pk=first.pk).update(status=MilestoneStatus.COMPLETED, review_deadline=later)
    Milestone.objects.filter(pk=second.pk).update(status=MilestoneStatus.COMPLETED, review_deadline=soon)
    Milestone.objects.filter(pk=third.pk).update(review_deadline=timezone.now())  # not delivered
    Milestone.objects.filter(pk=milestones(other)[0].pk).update(
        status=MilestoneStatus.COMPLETED, review_deadline=timezone.now()
    )
    deadlines = dict(
        selectors.with_review_clock(Escrow.objects.all()).values_list("pk", "next_review_deadline")
    )
    assert deadlines[escrow.pk] == soon
    Milestone.objects.filter(pk=milestones(other)[0].pk).update(status=MilestoneStatus.RELEASED)
    assert selectors.with_review_clock(Escrow.objects.filter(pk=other.pk)).get().next_review_deadline is None


def test_a_delivered_stage_without_a_stored_deadline_does_not_hide_the_next_one(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    fund(escrow, buyer)
    first, second, _ = milestones(escrow)
    soon = timezone.now() + timedelta(days=1)
    Milestone.objects.filter(pk=first.pk).update(status=MilestoneStatus.COMPLETED, review_deadline=None)
    Milestone.objects.filter(pk=second.pk).update(status=MilestoneStatus.COMPLETED, review_deadline=soon)
    assert selectors.with_review_clock(Escrow.objects.filter(pk=escrow.pk)).get().next_review_deadline == soon
