"""Change orders under real concurrency (PostgreSQL): accepting a change to a stage races the
buyer's release of that stage (one wins: a change to a released stage is refused, a release after
the change pays the new amount), an acceptance races a release of another stage (both happen),
the answer races the withdrawal (one of them), and both parties proposing at once leave one open
proposal. No deadlock, nothing moved twice, and every posting balances with the hold equal to
what is left of the unsettled stages."""

import random
from functools import partial

import pytest
from django.db import connection

from escrows import ledger, services
from escrows.models import ChangeProposal, ChangeProposalStatus, LedgerTransaction, MilestoneStatus
from escrows.selectors import wallet_balance
from escrows.services import StageAdd, StageEdit
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, make_escrow, milestones, refresh
from tests.races.racing import connection_pool, race
from tests.reliability import figures

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PER_ACTION = 4
SECTION = "change orders"


@pytest.fixture(autouse=True)
def _postgres_with_a_big_pool():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks and many connections: set DATABASE_URL to PostgreSQL")
    with connection_pool(3 * PER_ACTION + 5):
        yield


def _hold(escrow):
    return ledger.cached_balance(ledger.hold_account(refresh(escrow)))


def _funded():
    seller, buyer = UserFactory(), UserFactory()
    escrow = make_escrow(seller, parts=(30_000, 70_000))
    fund(escrow, buyer)
    return escrow, seller, buyer


def test_a_change_to_a_stage_races_its_release():
    rounds = figures.scaled(8)
    rng = random.Random(f"change-vs-release-{rounds}")
    for _ in range(rounds):
        escrow, seller, buyer = _funded()
        first = milestones(escrow)[0]
        proposal = services.change_order_propose(
            escrow=escrow, by=buyer, changes=[StageEdit(milestone=first, amount=20_000)]
        )
        actions = {
            "accept": partial(services.change_order_accept, proposal=proposal, by=seller),
            "release": partial(services.milestone_release, milestone=first, by=buyer),
        }
        names = [name for name in actions for _ in range(PER_ACTION)]
        rng.shuffle(names)
        result = race([actions[n] for n in names], label=names.__getitem__)
        figures.add(SECTION, "races run")
        accepted = result.outcomes.get("accept:ok", 0)
        released = result.outcomes.get("release:ok", 0)
        first, proposal = refresh(first), refresh(proposal)
        # Whoever came second: a release of a stage already released is refused; an acceptance
        # after the release finds the stage settled and is refused as out of date.
        changed_first = accepted == 1
        consistent = (
            not result.unexpected
            and released == 1
            and accepted in (0, 1)
            and first.status == MilestoneStatus.RELEASED
            and proposal.status
            == (ChangeProposalStatus.ACCEPTED if changed_first else ChangeProposalStatus.OPEN)
            and wallet_balance(seller, "USD") == (20_000 if changed_first else 30_000)
            and wallet_balance(buyer, "USD") == (10_000 if changed_first else 0)
            and _hold(escrow) == 70_000
            and LedgerTransaction.objects.filter(escrow=escrow, kind="RELEASE").count() == 1
        )
        figures.add(SECTION, "checks")
        figures.add(SECTION, "violations", 0 if consistent else 1)
        figures.add(SECTION, "change first" if changed_first else "release first")
        assert consistent, (result.outcomes, result.unexpected, first.status, proposal.status)
    assert_ledger_invariants()


def test_an_acceptance_races_the_release_of_another_stage():
    rounds = figures.scaled(8)
    for _ in range(rounds):
        escrow, seller, buyer = _funded()
        first, second = milestones(escrow)
        services.wallet_topup(customer=buyer, amount=10_150, currency="USD")
        proposal = services.change_order_propose(
            escrow=escrow, by=seller, changes=[StageAdd(amount=10_000, title="More")]
        )
        result = race(
            [
                partial(services.change_order_accept, proposal=proposal, by=buyer),
                partial(services.milestone_release, milestone=first, by=buyer),
            ],
            label=["accept", "release"].__getitem__,
        )
        figures.add(SECTION, "races run")
        escrow = refresh(escrow)
        consistent = (
            not result.unexpected
            and result.outcomes == {"accept:ok": 1, "release:ok": 1}
            and [m.index for m in milestones(escrow)] == [0, 1, 2]
            and escrow.amount == 110_000
            and _hold(escrow) == 80_000
            and wallet_balance(seller, "USD") == 30_000
            and wallet_balance(buyer, "USD") == 0
        )
        figures.add(SECTION, "checks")
        figures.add(SECTION, "violations", 0 if consistent else 1)
        assert consistent, (result.outcomes, result.unexpected)
    assert_ledger_invariants()


def test_the_answer_races_the_withdrawal():
    rounds = figures.scaled(8)
    rng = random.Random(f"answer-vs-withdraw-{rounds}")
    for _ in range(rounds):
        escrow, seller, buyer = _funded()
        second = milestones(escrow)[1]
        proposal = services.change_order_propose(
            escrow=escrow, by=seller, changes=[StageEdit(milestone=second, amount=60_000)]
        )
        actions = {
            "accept": partial(services.change_order_accept, proposal=proposal, by=buyer),
            "decline": partial(services.change_order_decline, proposal=proposal, by=buyer, reason="no"),
            "withdraw": partial(services.change_order_withdraw, proposal=proposal, by=seller),
        }
        names = [name for name in actions for _ in range(PER_ACTION)]
        rng.shuffle(names)
        result = race([actions[n] for n in names], label=names.__getitem__)
        figures.add(SECTION, "races run")
        ok = {n: result.outcomes.get(f"{n}:ok", 0) for n in actions}
        proposal = refresh(proposal)
        refunds = LedgerTransaction.objects.filter(escrow=escrow, kind="CHANGE_ORDER").count()
        consistent = (
            not result.unexpected
            and sum(ok.values()) == 1
            and refunds == ok["accept"]
            and wallet_balance(buyer, "USD") == 10_000 * ok["accept"]
            and _hold(escrow) == 100_000 - 10_000 * ok["accept"]
        )
        figures.add(SECTION, "checks")
        figures.add(SECTION, "violations", 0 if consistent else 1)
        assert consistent, (result.outcomes, result.unexpected, proposal.status)
    assert_ledger_invariants()


def test_both_parties_proposing_at_once_leave_one_open_proposal():
    rounds = figures.scaled(8)
    for _ in range(rounds):
        escrow, seller, buyer = _funded()
        more = StageAdd(amount=1_000)
        result = race(
            [
                partial(services.change_order_propose, escrow=escrow, by=who, changes=[more])
                for who in (seller, buyer) * PER_ACTION
            ]
        )
        figures.add(SECTION, "races run")
        ok = sum(n for outcome, n in result.outcomes.items() if outcome.endswith(":ok"))
        open_ones = ChangeProposal.objects.filter(escrow=escrow, status=ChangeProposalStatus.OPEN).count()
        refused = sum(n for outcome, n in result.outcomes.items() if outcome.endswith(":Conflict"))
        consistent = not result.unexpected and ok == 1 and open_ones == 1 and refused == 2 * PER_ACTION - 1
        figures.add(SECTION, "checks")
        figures.add(SECTION, "violations", 0 if consistent else 1)
        assert consistent, (result.outcomes, result.unexpected)
