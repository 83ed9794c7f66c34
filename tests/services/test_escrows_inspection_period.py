"""The inspection period is the seller's choice: whole days within the settings' bounds, stored on
the escrow, the one the review clock counts from, changeable until the buyer pays and fixed after."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidRequest, InvalidState
from escrows import services
from escrows.models import Escrow
from escrows.services import EscrowTerms, MilestoneInput, inspection_period_from_days
from tests.helpers import at, fund, make_escrow, milestones, refresh

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)
API_WORDS = "inspectionPeriodDays must be a whole number of days from 1 to 30"
PERSON_WORDS = "Inspection period: choose between 1 and 30 days."


def edit(escrow, seller, **terms):
    return services.escrow_edit(
        escrow=escrow,
        by=seller,
        terms=EscrowTerms(title=escrow.title, currency="USD", amount=100_000, **terms),
        milestones=[MilestoneInput(amount=50_000), MilestoneInput(amount=50_000)],
    )


def test_without_a_choice_the_escrow_gets_the_default(seller, settings):
    settings.ESCROW_INSPECTION_PERIOD = timedelta(days=9)
    escrow = refresh(make_escrow(seller))
    assert escrow.inspection_period == 9 * DAY and escrow.inspection_days == 9


def test_the_sellers_choice_is_stored(seller):
    escrow = refresh(make_escrow(seller, inspection_period=5 * DAY))
    assert escrow.inspection_period == 5 * DAY and escrow.inspection_days == 5


@pytest.mark.parametrize("days", [1, 30, "7", " 12 ", "000030", 1 * DAY, 30 * DAY])
def test_whole_days_within_the_bounds_are_allowed(days):
    expected = days if isinstance(days, timedelta) else int(days) * DAY
    assert inspection_period_from_days(days) == expected


@pytest.mark.parametrize(
    "days",
    [
        0,
        -1,
        31,
        10**30,
        "0",
        "-3",
        "31",
        "",
        "abc",
        "7 days",
        # Six digits are read, more are not, whatever their value.
        "0000007",
        "1.5",
        "٣",
        True,
        7.0,
        None,
        [7],
        timedelta(0),
        -DAY,
        31 * DAY,
        timedelta(hours=36),
        timedelta(seconds=1),
    ],
)
def test_anything_else_is_refused_in_both_words(days):
    with pytest.raises(InvalidRequest) as exc:
        inspection_period_from_days(days)
    assert (exc.value.message, exc.value.field, exc.value.for_person) == (
        API_WORDS,
        "inspectionPeriodDays",
        PERSON_WORDS,
    )


@pytest.mark.parametrize("period", [timedelta(0), 31 * DAY, timedelta(hours=36)])
def test_creating_with_a_period_out_of_bounds_is_refused_and_creates_nothing(seller, period):
    with pytest.raises(InvalidRequest) as exc:
        make_escrow(seller, inspection_period=period)
    assert exc.value.for_person == PERSON_WORDS
    assert Escrow.objects.count() == 0


def test_the_bounds_are_the_settings(seller, settings):
    settings.ESCROW_INSPECTION_DAYS_MIN, settings.ESCROW_INSPECTION_DAYS_MAX = 3, 60
    assert inspection_period_from_days(60) == 60 * DAY
    with pytest.raises(InvalidRequest) as exc:
        inspection_period_from_days(2)
    assert exc.value.for_person == "Inspection period: choose between 3 and 60 days."
    assert refresh(make_escrow(seller, inspection_period=45 * DAY)).inspection_days == 45


def test_the_review_clock_counts_the_escrows_own_period(seller, buyer, settings):
    settings.ESCROW_INSPECTION_PERIOD = 20 * DAY
    escrow = make_escrow(seller, buyer=buyer, inspection_period=3 * DAY)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    delivered_at = timezone.now()
    with at(delivered_at):
        services.milestone_complete(milestone=first, by=seller, proof="done")
    assert refresh(first).review_deadline == delivered_at + 3 * DAY
    # It releases by itself once those three days are over, not the setting's twenty.
    with at(delivered_at + 3 * DAY - timedelta(seconds=1)):
        assert services.milestone_auto_release(milestone=refresh(first)) is None
    with at(delivered_at + 3 * DAY):
        assert services.milestone_auto_release(milestone=refresh(first)) is not None
    assert refresh(first).released_at is not None


def test_the_seller_changes_it_while_the_escrow_is_unpaid(seller):
    escrow = make_escrow(seller, parts=(50_000, 50_000))
    edit(escrow, seller, inspection_period=21 * DAY)
    assert refresh(escrow).inspection_days == 21
    # An edit that does not name it keeps the period chosen.
    edit(escrow, seller)
    assert refresh(escrow).inspection_days == 21


def test_an_edit_out_of_bounds_changes_nothing(seller):
    escrow = make_escrow(seller, parts=(50_000, 50_000), inspection_period=5 * DAY)
    with pytest.raises(InvalidRequest):
        edit(escrow, seller, inspection_period=0 * DAY)
    assert refresh(escrow).inspection_days == 5 and refresh(escrow).terms_version == 1


def test_once_paid_the_period_is_fixed(seller, buyer):
    escrow = make_escrow(seller, buyer=buyer, parts=(50_000, 50_000), inspection_period=5 * DAY)
    fund(escrow, buyer)
    with pytest.raises(InvalidState):
        edit(escrow, seller, inspection_period=30 * DAY)
    assert refresh(escrow).inspection_days == 5
