"""A change order closed without money moving: the other party declines it saying why, the
proposer withdraws it, or nobody answers and it lapses. The exact refusals (what the API and the
pages show), who decided and when, the card token forgotten, and the events' exact record."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Forbidden, InvalidRequest
from escrows import services
from escrows.models import ChangeProposalStatus, Event
from escrows.services import REASON_MAX, StageAdd
from tests.helpers import at, refresh

pytestmark = pytest.mark.django_db


def add_stage(escrow, by, **kwargs):
    return services.change_order_propose(
        escrow=escrow, by=by, changes=[StageAdd(amount=30_000, title="Launch", description="")], **kwargs
    )


def refusal(error_class, call):
    with pytest.raises(error_class) as caught:
        call()
    return caught.value.message, caught.value.field, caught.value.for_person


# -- who answers: exact wording ------------------------------------------------------------------


def test_the_proposer_is_told_to_withdraw_rather_than_decline(funded, seller):
    proposal = add_stage(funded, seller)
    assert refusal(
        Forbidden, lambda: services.change_order_decline(proposal=proposal, by=seller, reason="no")
    ) == (
        "Only the other party can decline this change order; you can withdraw it",
        None,
        "Only the other party can decline this change order; you can withdraw it",
    )
    assert refresh(proposal).status == ChangeProposalStatus.OPEN


def test_the_other_party_is_told_only_the_proposer_withdraws(funded, seller, buyer):
    proposal = add_stage(funded, seller)
    assert refusal(Forbidden, lambda: services.change_order_withdraw(proposal=proposal, by=buyer)) == (
        "Only the party who proposed the change order can withdraw it",
        None,
        "Only the party who proposed the change order can withdraw it",
    )
    assert refresh(proposal).status == ChangeProposalStatus.OPEN


# -- declining: the reason ------------------------------------------------------------------------

NO_REASON = ("Say why you decline the change", "reason", "Say why you decline the change.")


@pytest.mark.parametrize("reason", [None, "", "   "], ids=["none", "empty", "blank"])
def test_a_decline_without_a_reason_is_refused_on_the_reason_field(funded, seller, buyer, reason):
    proposal = add_stage(funded, seller)
    assert (
        refusal(
            InvalidRequest, lambda: services.change_order_decline(proposal=proposal, by=buyer, reason=reason)
        )
        == NO_REASON
    )
    assert refresh(proposal).status == ChangeProposalStatus.OPEN
    assert not Event.objects.filter(kind="change_order.declined").exists()


def test_a_reason_of_the_longest_length_is_kept_and_one_more_character_is_refused(funded, seller, buyer):
    proposal = add_stage(funded, seller)
    assert refusal(
        InvalidRequest,
        lambda: services.change_order_decline(proposal=proposal, by=buyer, reason="x" * (REASON_MAX + 1)),
    ) == (
        "reason must be at most 2000 characters",
        "reason",
        "The reason can be at most 2,000 characters.",
    )
    assert refresh(proposal).status == ChangeProposalStatus.OPEN
    services.change_order_decline(proposal=proposal, by=buyer, reason="x" * REASON_MAX)
    assert refresh(proposal).decline_reason == "x" * REASON_MAX


# -- withdrawing: who, when, and no reason ---------------------------------------------------------


def test_a_withdrawal_records_the_proposer_the_moment_and_no_reason(funded, seller, buyer):
    moment = timezone.now() + timedelta(hours=1)
    proposal = add_stage(funded, buyer, pay_source="CARD", card_token="tok_visa")
    with at(moment):
        services.change_order_withdraw(proposal=proposal, by=buyer)
    withdrawn = refresh(proposal)
    assert (
        withdrawn.status,
        withdrawn.decided_by,
        withdrawn.decided_at,
        withdrawn.decline_reason,
        withdrawn.card_token,
    ) == ("WITHDRAWN", buyer, moment, "", "")
    event = Event.objects.get(kind="change_order.withdrawn")
    assert (event.actor, event.actor_kind, event.from_status, event.to_status) == (
        buyer,
        "user",
        "OPEN",
        "WITHDRAWN",
    )
    assert refresh(event).details == {
        "changeOrder": proposal.public_id,
        "role": "buyer",
        "amountBefore": 100_000,
        "amountAfter": 130_000,
    }


# -- lapsing: the timer decides, nobody answered ----------------------------------------------------


def test_a_lapsed_change_order_forgets_the_card_and_records_the_change_exactly(funded, buyer):
    proposal = add_stage(funded, buyer, pay_source="CARD", card_token="tok_visa")
    later = proposal.lapses_at + timedelta(seconds=1)
    with at(later):
        assert services.change_order_lapse(proposal=proposal) is not None
    lapsed = refresh(proposal)
    assert (lapsed.status, lapsed.decided_at, lapsed.decided_by, lapsed.card_token) == (
        "LAPSED",
        later,
        None,
        "",
    )
    event = Event.objects.get(kind="change_order.lapsed")
    assert (event.actor, event.actor_kind, event.from_status, event.to_status) == (
        None,
        "system",
        "OPEN",
        "LAPSED",
    )
    assert refresh(event).details == {
        "changeOrder": proposal.public_id,
        "role": "buyer",
        "amountBefore": 100_000,
        "amountAfter": 130_000,
        "reason": "no answer in time",
    }
