"""Money moves exactly once under real concurrency: many threads, each with its own PostgreSQL
connection, race for the same escrow. Rounds scale with RELIABILITY_SCALE."""

import random
from functools import partial

import pytest
from django.db import connection
from django.db.models import Sum

from escrows import services
from escrows.models import (
    Escrow,
    EscrowStatus,
    LedgerTransaction,
    MilestoneStatus,
    MockOffRampPayout,
    Payment,
    Settlement,
    SettlementStatus,
)
from escrows.selectors import escrow_ledger_summary, wallet_balance
from escrows.services import EscrowTerms, MilestoneInput
from tests.factories import UserFactory
from tests.helpers import assert_ledger_invariants, fund, milestones, refresh
from tests.races.racing import connection_pool, race
from tests.reliability import figures

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 50


@pytest.fixture(autouse=True)
def _postgres_with_a_big_pool():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks and many connections: set DATABASE_URL to PostgreSQL")
    with connection_pool(THREADS + 5):
        yield


def _settled_escrow(seller, parts=(40_000, 60_000)):
    return services.escrow_create(
        seller=seller,
        terms=EscrowTerms(
            title="Race",
            currency="USD",
            amount=sum(parts),
            settlement_method="OFF_RAMP_MOCK",
            settlement_destination="bank-acct-race",
        ),
        milestones=[MilestoneInput(amount=p) for p in parts],
    )


def _check(section: str, ok: bool) -> None:
    figures.add(section, "checks")
    figures.add(section, "violations", 0 if ok else 1)


def test_fifty_parallel_confirms_release_once_post_once_settle_once():
    section = "confirm x50"
    # Two races per escrow: the first milestone, then the last one (which completes the escrow).
    rounds = figures.scaled(20)
    for _ in range((rounds + 1) // 2):
        seller, buyer = UserFactory(), UserFactory()
        escrow = _settled_escrow(seller)
        fund(escrow, buyer)
        for milestone in milestones(escrow):
            result = race([partial(services.milestone_release, milestone=milestone, by=buyer)] * THREADS)
            figures.add(section, "races run")
            figures.add(section, "attempts", THREADS)
            wins = sum(n for k, n in result.outcomes.items() if k.endswith(":ok"))
            figures.add(section, "releases (must equal races)", wins)
            releases = LedgerTransaction.objects.filter(kind="RELEASE", milestone=milestone).count()
            settlements = Settlement.objects.filter(milestone=milestone)
            payouts = MockOffRampPayout.objects.filter(
                idempotency_key__in=settlements.values("public_id")
            ).exclude(reference="")
            figures.add(section, "ledger postings", releases)
            figures.add(section, "settlements", settlements.count())
            figures.add(section, "off-ramp payouts", payouts.count())
            _check(section, not result.unexpected)
            _check(section, wins == 1 and releases == 1 and settlements.count() == 1 and payouts.count() == 1)
            _check(section, settlements.get().status == SettlementStatus.PAID)
            assert not result.unexpected, result.unexpected
            assert wins == 1, result.outcomes
            assert releases == 1 and settlements.count() == 1 and payouts.count() == 1
        escrow = refresh(escrow)
        assert escrow.status == EscrowStatus.COMPLETED
        assert escrow.events.filter(kind="escrow.completed").count() == 1
        # Everything released went out through the off-ramp, once.
        assert wallet_balance(seller, "USD") == 0
    assert_ledger_invariants()
    assert figures.FIGURES[section]["violations"] == 0


def test_confirm_cancel_refund_dispute_race_has_one_consistent_outcome():
    section = "confirm/cancel/refund/dispute"
    rounds = figures.scaled(20)
    per_action = 6
    rng = random.Random(f"race-{rounds}")
    for _ in range(rounds):
        seller, buyer = UserFactory(), UserFactory()
        escrow = _settled_escrow(seller, parts=(30_000, 30_000, 40_000))
        fund(escrow, buyer)
        first, second = milestones(escrow)[:2]
        actions = {
            "confirm": partial(services.milestone_release, milestone=first, by=buyer),
            "cancel": partial(services.escrow_cancel, escrow=escrow, by=seller),
            "refund": partial(services.escrow_refund, escrow=escrow, by=seller),
            "dispute": partial(
                services.dispute_open, escrow=escrow, milestone=second, by=buyer, reason="late"
            ),
        }
        names = [name for name in actions for _ in range(per_action)]
        # Threads queue for the row lock roughly in start order: shuffle so every action wins.
        rng.shuffle(names)
        result = race([actions[n] for n in names], label=names.__getitem__)
        figures.add(section, "races run")
        figures.add(section, "attempts", len(names))
        ok = {n: result.outcomes.get(f"{n}:ok", 0) for n in actions}
        escrow = refresh(escrow)
        summary = escrow_ledger_summary(escrow)
        consistent = (
            not result.unexpected
            and ok["confirm"] <= 1
            and ok["cancel"] == 0
            # Refund and a dispute of the second milestone exclude each other: a disputed
            # milestone blocks the refund, a refunded escrow cannot be disputed.
            and ok["refund"] + ok["dispute"] == 1
            and summary.funded == escrow.amount
            and summary.released + summary.refunded <= summary.funded
            and summary.released == ok["confirm"] * first.amount
            and (escrow.status == EscrowStatus.REFUNDED) == (ok["refund"] == 1)
            and (refresh(second).status == MilestoneStatus.DISPUTED) == (ok["dispute"] == 1)
            and (summary.released + summary.refunded == summary.funded) == (ok["refund"] == 1)
        )
        _check(section, consistent)
        figures.add(section, "confirm won", ok["confirm"])
        figures.add(section, "refund won", ok["refund"])
        figures.add(section, "dispute won", ok["dispute"])
        assert consistent, (result.outcomes, result.unexpected, escrow.status, summary)
    assert_ledger_invariants()


def test_fund_and_cancel_race_leaves_either_a_paid_or_a_cancelled_escrow():
    section = "fund vs cancel"
    rounds = figures.scaled(10)
    rng = random.Random(f"fund-cancel-{rounds}")
    for _ in range(rounds):
        seller, buyer = UserFactory(), UserFactory()
        escrow = _settled_escrow(seller)
        services.wallet_topup(customer=buyer, amount=escrow.total_charge, currency="USD")
        names = ["fund"] * 10 + ["cancel"] * 10
        rng.shuffle(names)
        result = race(
            [
                # The buyer pays while the seller calls the deal off.
                partial(services.escrow_fund, escrow=escrow, by=buyer)
                if n == "fund"
                else partial(services.escrow_cancel, escrow=escrow, by=seller)
                for n in names
            ],
            label=names.__getitem__,
        )
        figures.add(section, "races run")
        figures.add(section, "attempts", len(names))
        escrow = refresh(escrow)
        paid = Payment.objects.filter(escrow=escrow).count()
        consistent = (
            not result.unexpected
            and result.outcomes.get("fund:ok", 0) + result.outcomes.get("cancel:ok", 0) == 1
            and (
                (escrow.status == EscrowStatus.OPENED and paid == 1 and wallet_balance(buyer, "USD") == 0)
                or (
                    escrow.status == EscrowStatus.CANCELLED
                    and paid == 0
                    and wallet_balance(buyer, "USD") == escrow.total_charge
                )
            )
        )
        _check(section, consistent)
        figures.add(section, "fund won", result.outcomes.get("fund:ok", 0))
        figures.add(section, "cancel won", result.outcomes.get("cancel:ok", 0))
        assert consistent, (result.outcomes, result.unexpected, escrow.status)
    assert_ledger_invariants()


def test_twenty_parallel_funds_charge_once():
    section = "fund x20"
    rounds = figures.scaled(10)
    for i in range(rounds):
        seller, buyer = UserFactory(), UserFactory()
        escrow = _settled_escrow(seller)
        services.wallet_topup(customer=buyer, amount=escrow.total_charge * 20, currency="USD")
        # Half the rounds repeat one payment reference (idempotent replays), half send none.
        reference = f"ref-{escrow.public_id}" if i % 2 else None
        result = race([partial(services.escrow_fund, escrow=escrow, by=buyer, reference=reference)] * 20)
        figures.add(section, "races run")
        figures.add(section, "attempts", 20)
        charged = escrow.total_charge * 20 - wallet_balance(buyer, "USD")
        payments = Payment.objects.filter(escrow=escrow).count()
        fundings = LedgerTransaction.objects.filter(kind="FUNDING", escrow=escrow).count()
        wins = result.outcomes.get("0:ok", 0) + sum(
            n for k, n in result.outcomes.items() if k.endswith(":ok") and not k.startswith("0:")
        )
        figures.add(section, "charges", fundings)
        once = not result.unexpected and payments == 1 and fundings == 1 and charged == escrow.total_charge
        if reference:
            # Every replay of the same reference answers with the one payment.
            once = once and wins == 20 and len({p.pk for p in result.values}) == 1
        else:
            once = once and wins == 1
        _check(section, once)
        assert once, (result.outcomes, result.unexpected, payments, fundings, charged)
    assert_ledger_invariants()


def test_parallel_withdrawals_never_overdraw_a_balance():
    section = "withdraw x20"
    rounds = figures.scaled(5)
    for _ in range(rounds):
        customer = UserFactory()
        services.wallet_topup(customer=customer, amount=7 * 1_000, currency="USD")
        result = race(
            [
                partial(
                    services.wallet_withdraw,
                    customer=customer,
                    amount=1_000,
                    currency="USD",
                    destination="bank-acct-1",
                )
            ]
            * 20
        )
        figures.add(section, "races run")
        figures.add(section, "attempts", 20)
        wins = sum(n for k, n in result.outcomes.items() if k.endswith(":ok"))
        paid_out = (
            Settlement.objects.filter(customer=customer, status=SettlementStatus.PAID).aggregate(
                t=Sum("amount")
            )["t"]
            or 0
        )
        ok = (
            not result.unexpected and wins == 7 and paid_out == 7_000 and wallet_balance(customer, "USD") == 0
        )
        _check(section, ok)
        assert ok, (result.outcomes, result.unexpected, paid_out)
    assert_ledger_invariants()
    assert Escrow.objects.count() == 0
