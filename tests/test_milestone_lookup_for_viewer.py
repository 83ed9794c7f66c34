"""A milestone is found for a party of its escrow in one query; anyone else, a milestone of
another escrow, or an unknown id is told which of the two was not found."""

import pytest

from core.errors import NotFound
from escrows import selectors
from tests.helpers import make_escrow, milestones

pytestmark = pytest.mark.django_db


def test_a_party_gets_the_milestone_with_its_escrow_in_one_query(seller, buyer, django_assert_num_queries):
    escrow = make_escrow(seller, buyer=buyer)
    wanted = milestones(escrow)[1]
    for user in (seller, buyer):
        with django_assert_num_queries(1):
            found = selectors.milestone_get_for_user(user, escrow.public_id, wanted.public_id)
            assert found.escrow.public_id == escrow.public_id
        assert found.pk == wanted.pk


def test_someone_else_is_told_the_escrow_was_not_found(seller, buyer, stranger):
    escrow = make_escrow(seller, buyer=buyer)
    wanted = milestones(escrow)[0]
    with pytest.raises(NotFound, match="^Escrow not found$"):
        selectors.milestone_get_for_user(stranger, escrow.public_id, wanted.public_id)


def test_an_unknown_milestone_or_one_of_another_escrow_is_a_missing_milestone(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer)
    other = make_escrow(seller, buyer=buyer)
    for milestone_id in ("ms_unknown", milestones(other)[0].public_id):
        with pytest.raises(NotFound, match="^Milestone not found$"):
            selectors.milestone_get_for_user(buyer, escrow.public_id, milestone_id)
