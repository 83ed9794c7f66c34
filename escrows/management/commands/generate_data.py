"""Bulk test data in the real schema: N customers and escrows in every state, with the ledger
postings the services would have made (top-up, funding, releases, refunds), so the ledger
ledger invariants hold on the result. Rows go in with bulk_create, a batch per transaction,
so 100,000 escrows take about a minute on PostgreSQL instead of the hours the services would."""

import random
import secrets
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from escrows.models import (
    AccountKind,
    ActorKind,
    Dispute,
    DisputeOutcome,
    DisputeStatus,
    Escrow,
    EscrowStatus,
    Event,
    FundingSource,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Milestone,
    MilestoneStatus,
    Payment,
    TransactionKind,
)
from escrows.money import fee_for

GENERATED_PASSWORD = "gen-pass-123"  # noqa: S105 - test data only
CURRENCY = "USD"
# How the escrows spread over the states (weights), roughly what a live system holds. A milestone
# escrow is never DISPUTED as a whole (a dispute freezes one milestone): that share becomes open
# escrows with one milestone under a live dispute. A share of the completed ones had a dispute
# on their last milestone resolved as a split.
STATE_WEIGHTS = {
    EscrowStatus.AWAITING_PAYMENT: 20,
    EscrowStatus.OPENED: 35,
    EscrowStatus.DISPUTED: 5,
    EscrowStatus.COMPLETED: 25,
    EscrowStatus.REFUNDED: 5,
    EscrowStatus.CANCELLED: 10,
}
FUNDED = {
    EscrowStatus.OPENED,
    EscrowStatus.DISPUTED,
    EscrowStatus.COMPLETED,
    EscrowStatus.REFUNDED,
}
# Every customer's wallet is topped up by what they spend plus this, so a benchmark can fund more.
SPARE_BALANCE = 10_000_000_00
# Real marketplaces are skewed: this share of escrows goes to 1% of the customers, so there
# are sellers with hundreds of escrows for the list pages to page through.
POWER_SELLER_SHARE = 0.2
SPLIT_SHARE = 0.15


@contextmanager
def explicit_timestamps(*fields: Any) -> Iterator[None]:
    """Let bulk_create keep the timestamps we spread over the past instead of stamping 'now'."""
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


@dataclass
class Books:
    """Postings of one batch, turned into rows once the ids they point at exist."""

    txns: list[LedgerTransaction] = field(default_factory=list)
    legs: list[list[tuple[LedgerAccount, int]]] = field(default_factory=list)

    def post(self, txn: LedgerTransaction, legs: list[tuple[LedgerAccount, int]]) -> None:
        assert sum(amount for _, amount in legs) == 0
        self.txns.append(txn)
        self.legs.append(legs)

    def save(self, batch_size: int) -> int:
        LedgerTransaction.objects.bulk_create(self.txns, batch_size=batch_size)
        entries = [
            LedgerEntry(transaction=txn, account=account, amount=amount)
            for txn, legs in zip(self.txns, self.legs, strict=True)
            for account, amount in legs
            if amount
        ]
        LedgerEntry.objects.bulk_create(entries, batch_size=batch_size)
        return len(entries)


def _buyer_id(escrow: Escrow) -> int:
    assert escrow.buyer_id is not None  # every generated escrow names its buyer
    return escrow.buyer_id


class Command(BaseCommand):
    help = "Generate N customers and escrows (3 milestones each, every state) with consistent ledger rows."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--escrows", type=int, default=100_000)
        parser.add_argument("--customers", type=int, default=None, help="default: escrows / 10, at least 2")
        parser.add_argument("--milestones", type=int, default=3)
        parser.add_argument("--batch", type=int, default=2_000, help="escrows per transaction")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--states",
            default=",".join(STATE_WEIGHTS),
            help="comma-separated escrow states to draw from (default: all)",
        )
        parser.add_argument(
            "--platform-email",
            default="",
            help="an existing platform account recorded as the creator of the customers (API acts for them)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.perf_counter()
        n_escrows: int = opts["escrows"]
        n_customers: int = opts["customers"] or max(2, n_escrows // 10)
        if n_escrows < 0 or n_customers < 2 or opts["milestones"] < 2 or opts["batch"] < 1:
            raise CommandError("need --escrows >= 0, --customers >= 2, --milestones >= 2, --batch >= 1")
        states = [s.strip().upper() for s in opts["states"].split(",") if s.strip()]
        unknown = set(states) - set(STATE_WEIGHTS)
        if unknown or not states:
            raise CommandError(f"unknown states: {', '.join(sorted(unknown)) or '(none)'}")
        platform = None
        if opts["platform_email"]:
            platform = User.objects.filter(email=opts["platform_email"], is_platform=True).first()
            if platform is None:
                raise CommandError(f"no platform account {opts['platform_email']}")
        self.rng = random.Random(opts["seed"])
        self.now = timezone.now()
        self.batch_size = 1_000
        self.weights = [STATE_WEIGHTS[s] for s in states]
        self.states = [EscrowStatus(s) for s in states]
        self.n_milestones = opts["milestones"]

        with transaction.atomic():
            customers = self._customers(n_customers, platform)
            self.main = self._main_accounts(customers)
            self.fees = LedgerAccount.objects.get_or_create(
                kind=AccountKind.PLATFORM_FEES, currency=CURRENCY, owner=None, escrow=None
            )[0]
            self.outside = LedgerAccount.objects.get_or_create(
                kind=AccountKind.EXTERNAL_FUNDING, currency=CURRENCY, owner=None, escrow=None
            )[0]
        self.net: dict[int, int] = defaultdict(int)  # customer pk -> net movement of their wallet
        self.spent: dict[int, int] = defaultdict(int)  # customer pk -> what their fundings took
        rows = 0
        stamped = (
            Escrow._meta.get_field("created_at"),
            Escrow._meta.get_field("updated_at"),
            Milestone._meta.get_field("created_at"),
            Event._meta.get_field("created_at"),
            Dispute._meta.get_field("created_at"),
            Dispute._meta.get_field("updated_at"),
        )
        with explicit_timestamps(*stamped):
            for start in range(0, n_escrows, opts["batch"]):
                with transaction.atomic():
                    rows += self._batch(customers, min(opts["batch"], n_escrows - start))
        with transaction.atomic():
            rows += self._topups_and_balances(customers)
        took = time.perf_counter() - started
        self.stdout.write(
            f"generated {n_customers} customers, {n_escrows} escrows ({rows} rows) in {took:.1f}s "
            f"(password for all customers: {GENERATED_PASSWORD})"
        )

    # -- customers ---------------------------------------------------------------------------

    def _customers(self, n: int, platform: User | None) -> list[User]:
        tag = secrets.token_hex(3)
        password = make_password(GENERATED_PASSWORD)  # one hash for all: hashing 10k is minutes
        users = [
            User(
                email=f"gen-{tag}-{i}@gen.test",
                password=password,
                first_name=f"Gen{i}",
                last_name=tag,
                created_by_platform=platform,
            )
            for i in range(n)
        ]
        return User.objects.bulk_create(users, batch_size=self.batch_size)

    def _main_accounts(self, customers: list[User]) -> dict[int, LedgerAccount]:
        accounts = LedgerAccount.objects.bulk_create(
            [LedgerAccount(kind=AccountKind.CUSTOMER_MAIN, currency=CURRENCY, owner=c) for c in customers],
            batch_size=self.batch_size,
        )
        return {c.pk: a for c, a in zip(customers, accounts, strict=True)}

    # -- one batch of escrows ----------------------------------------------------------------

    def _batch(self, customers: list[User], n: int) -> int:
        rng, now = self.rng, self.now
        escrows: list[Escrow] = []
        # (state, milestones released, next delivered, next disputed, last one split)
        plans: list[tuple[EscrowStatus, int, bool, bool, bool]] = []
        parts_of: list[list[int]] = []
        power = customers[: max(1, len(customers) // 100)]
        for _ in range(n):
            seller, buyer = rng.sample(customers, 2)
            if rng.random() < POWER_SELLER_SHARE:
                seller = rng.choice(power)
                if seller.pk == buyer.pk:
                    buyer = customers[-1] if seller is not customers[-1] else customers[0]
            state = rng.choices(self.states, self.weights)[0]
            disputed = state == EscrowStatus.DISPUTED
            parts = [rng.randrange(10, 5_000) * 100 for _ in range(self.n_milestones)]
            amount = sum(parts)
            fee, version = fee_for(amount, CURRENCY)
            # Open escrows are recent (no timer due yet); closed ones spread over a year.
            age = timedelta(days=rng.uniform(0, 20 if state in (EscrowStatus.AWAITING_PAYMENT,) else 365))
            if state in (EscrowStatus.OPENED, EscrowStatus.DISPUTED):
                age = timedelta(days=rng.uniform(1, 30))
            created = now - age
            released = 0
            if state in (EscrowStatus.OPENED, EscrowStatus.DISPUTED, EscrowStatus.REFUNDED):
                released = rng.randrange(0, self.n_milestones)
            elif state == EscrowStatus.COMPLETED:
                released = self.n_milestones
            delivered = state == EscrowStatus.OPENED and released < self.n_milestones and rng.random() < 0.3
            split = state == EscrowStatus.COMPLETED and rng.random() < SPLIT_SHARE
            if disputed:
                state = EscrowStatus.OPENED
            funded_at = created + timedelta(hours=rng.uniform(0, 12)) if state in FUNDED else None
            closed = state in (EscrowStatus.COMPLETED, EscrowStatus.REFUNDED, EscrowStatus.CANCELLED)
            escrows.append(
                Escrow(
                    seller=seller,
                    buyer=buyer,
                    buyer_email=buyer.email,
                    title=f"Generated job {rng.randrange(1_000_000)}",
                    description="Generated test data",
                    currency=CURRENCY,
                    amount=amount,
                    fee=fee,
                    fee_schedule_version=version,
                    inspection_period=timedelta(days=14),
                    expires_at=created + timedelta(days=30),
                    status=state,
                    funded_at=funded_at,
                    closed_at=(funded_at or created) + timedelta(days=1) if closed else None,
                    created_at=created,
                    updated_at=created,
                )
            )
            plans.append((state, released, delivered, disputed, split))
            parts_of.append(parts)
        Escrow.objects.bulk_create(escrows, batch_size=self.batch_size)

        milestones: list[Milestone] = []
        for escrow, (state, released, delivered, disputed, split), parts in zip(
            escrows, plans, parts_of, strict=True
        ):
            for i, part in enumerate(parts):
                # The status is a protected FSM field: it can only be given at construction.
                extra: dict[str, Any] = {}
                if i < released:
                    at = (escrow.funded_at or now) + timedelta(hours=i + 1)
                    extra = {"status": MilestoneStatus.RELEASED, "completed_at": at, "released_at": at}
                    if split and i == len(parts) - 1:
                        extra = {"status": MilestoneStatus.SPLIT, "completed_at": at, "released_at": at}
                elif disputed and i == released:
                    at = now - timedelta(days=rng.uniform(1, 5))
                    extra = {
                        "status": MilestoneStatus.DISPUTED,
                        "completed_at": at,
                        "completed_by": "seller",
                        "completion_proof": "Delivered (generated)",
                        "review_deadline": at + escrow.inspection_period,
                    }
                elif state == EscrowStatus.REFUNDED:
                    extra = {"status": MilestoneStatus.REFUNDED, "refunded_at": escrow.closed_at}
                elif i == released and delivered:
                    extra = {
                        "status": MilestoneStatus.COMPLETED,
                        "completed_at": now - timedelta(days=rng.uniform(0, 7)),
                        "completed_by": "seller",
                        "completion_proof": "Delivered (generated)",
                    }
                    extra["review_deadline"] = extra["completed_at"] + escrow.inspection_period
                milestones.append(
                    Milestone(
                        escrow=escrow,
                        index=i,
                        title=f"Stage {i + 1}",
                        amount=part,
                        created_at=escrow.created_at,
                        **extra,
                    )
                )
        Milestone.objects.bulk_create(milestones, batch_size=self.batch_size)
        self._disputes(escrows, milestones)

        funded = [e for e in escrows if e.status in FUNDED]
        payments = Payment.objects.bulk_create(
            [
                Payment(
                    escrow=e,
                    payer_id=_buyer_id(e),
                    source=FundingSource.WALLET,
                    reference=f"fund_{e.public_id}",
                    amount=e.amount,
                    fee=e.fee,
                    currency=CURRENCY,
                )
                for e in funded
            ],
            batch_size=self.batch_size,
        )
        payment_of = {p.escrow_id: p for p in payments}
        by_escrow: dict[int, list[Milestone]] = defaultdict(list)
        for m in milestones:
            by_escrow[m.escrow_id].append(m)
        holds = LedgerAccount.objects.bulk_create(
            [
                LedgerAccount(
                    kind=AccountKind.ESCROW_HOLD,
                    currency=CURRENCY,
                    escrow=e,
                    balance=sum(m.amount for m in by_escrow[e.pk] if not m.is_settled),
                )
                for e in funded
            ],
            batch_size=self.batch_size,
        )
        hold_of = {e.pk: a for e, a in zip(funded, holds, strict=True)}

        books = Books()
        events: list[Event] = []
        for escrow in escrows:
            events += self._history(escrow, by_escrow[escrow.pk], payment_of, hold_of, books)
        entries = books.save(self.batch_size)
        Event.objects.bulk_create(events, batch_size=self.batch_size)
        return (
            len(escrows)
            + len(milestones)
            + len(payments)
            + len(holds)
            + len(books.txns)
            + entries
            + len(events)
        )

    def _history(
        self,
        escrow: Escrow,
        milestones: list[Milestone],
        payment_of: dict[int, Payment],
        hold_of: dict[int, LedgerAccount],
        books: Books,
    ) -> list[Event]:
        """The postings and events the services write for this escrow's path to its state."""
        seller, buyer = escrow.seller, escrow.buyer
        assert buyer is not None
        events = [
            self._event(
                "escrow.created",
                escrow,
                seller,
                escrow.created_at,
                to_status=EscrowStatus.AWAITING_PAYMENT,
                details={"amount": escrow.amount, "fee": escrow.fee, "currency": CURRENCY},
            )
        ]
        if escrow.status == EscrowStatus.CANCELLED:
            events.append(
                self._event(
                    "escrow.cancelled",
                    escrow,
                    seller,
                    escrow.closed_at,
                    from_status=EscrowStatus.AWAITING_PAYMENT,
                    to_status=EscrowStatus.CANCELLED,
                )
            )
        if escrow.status not in FUNDED:
            return events
        payment, hold = payment_of[escrow.pk], hold_of[escrow.pk]
        total = escrow.amount + escrow.fee
        self.net[buyer.pk] -= total
        self.spent[buyer.pk] += total
        books.post(
            LedgerTransaction(
                kind=TransactionKind.FUNDING, currency=CURRENCY, escrow=escrow, memo=payment.public_id
            ),
            [(self.main[buyer.pk], -total), (hold, escrow.amount), (self.fees, escrow.fee)],
        )
        events.append(
            self._event(
                "escrow.funded",
                escrow,
                buyer,
                escrow.funded_at,
                from_status=EscrowStatus.AWAITING_PAYMENT,
                to_status=EscrowStatus.OPENED,
                details={"payment": payment.public_id, "source": FundingSource.WALLET, "charged": total},
            )
        )
        for m in milestones:
            if m.completed_at is not None:
                events.append(
                    self._event(
                        "milestone.completed",
                        escrow,
                        seller,
                        m.completed_at,
                        milestone=m,
                        from_status=MilestoneStatus.PENDING,
                        to_status=MilestoneStatus.COMPLETED,
                        details={
                            "index": m.index,
                            "completedBy": m.completed_by,
                            "proof": "",
                            "proofUri": "",
                        },
                    )
                )
            if m.status == MilestoneStatus.SPLIT:
                events += self._split(escrow, m, hold, books)
            if m.status == MilestoneStatus.DISPUTED:
                dispute = self.dispute_of[m.pk]
                events.append(
                    self._event(
                        "dispute.opened",
                        escrow,
                        buyer,
                        dispute.created_at,
                        milestone=m,
                        to_status=DisputeStatus.OPEN,
                        details={"dispute": dispute.public_id, "openedBy": "buyer"},
                    )
                )
            if m.status == MilestoneStatus.RELEASED:
                self.net[seller.pk] += m.amount
                books.post(
                    LedgerTransaction(
                        kind=TransactionKind.RELEASE, currency=CURRENCY, escrow=escrow, milestone=m
                    ),
                    [(hold, -m.amount), (self.main[seller.pk], m.amount)],
                )
                events.append(
                    self._event(
                        "milestone.released",
                        escrow,
                        buyer,
                        m.released_at,
                        milestone=m,
                        from_status=MilestoneStatus.COMPLETED,
                        to_status=MilestoneStatus.RELEASED,
                        details={
                            "index": m.index,
                            "amount": m.amount,
                            "payee": seller.customer_id,
                            "reason": "",
                        },
                    )
                )
        if escrow.status == EscrowStatus.REFUNDED:
            rest = [m for m in milestones if m.status == MilestoneStatus.REFUNDED]
            amount = sum(m.amount for m in rest)
            self.net[buyer.pk] += amount
            books.post(
                LedgerTransaction(
                    kind=TransactionKind.REFUND, currency=CURRENCY, escrow=escrow, memo="seller refund"
                ),
                [(hold, -amount), (self.main[buyer.pk], amount)],
            )
            for m in rest:
                events.append(
                    self._event(
                        "milestone.refunded",
                        escrow,
                        seller,
                        escrow.closed_at,
                        milestone=m,
                        from_status=MilestoneStatus.PENDING,
                        to_status=MilestoneStatus.REFUNDED,
                        details={"amount": m.amount, "reason": "seller refund"},
                    )
                )
            events.append(
                self._event(
                    "escrow.refunded",
                    escrow,
                    seller,
                    escrow.closed_at,
                    from_status=EscrowStatus.OPENED,
                    to_status=EscrowStatus.REFUNDED,
                    details={"amount": amount},
                )
            )
        elif escrow.status == EscrowStatus.COMPLETED:
            events.append(
                self._event(
                    "escrow.completed",
                    escrow,
                    buyer,
                    escrow.closed_at,
                    from_status=EscrowStatus.OPENED,
                    to_status=EscrowStatus.COMPLETED,
                )
            )
        return events

    def _disputes(self, escrows: list[Escrow], milestones: list[Milestone]) -> None:
        """A Dispute row for each DISPUTED milestone (live, opened by the buyer) and each SPLIT
        one (resolved by staff as a split), as the dispute services would have left them."""
        of_escrow = {e.pk: e for e in escrows}
        rows = []
        for m in milestones:
            if m.status not in (MilestoneStatus.DISPUTED, MilestoneStatus.SPLIT):
                continue
            escrow = of_escrow[m.escrow_id]
            seller_half = m.amount // 2
            opened = (m.completed_at or self.now) + timedelta(hours=1)
            fields: dict[str, Any] = {}
            if m.status == MilestoneStatus.SPLIT:
                opened = (m.completed_at or self.now) - timedelta(hours=1)
                fields = {
                    "outcome": DisputeOutcome.SPLIT,
                    "seller_amount": seller_half,
                    "buyer_amount": m.amount - seller_half,
                    "resolved_at": m.completed_at,
                    "resolution_note": "Generated: split by staff",
                }
            rows.append(
                Dispute(
                    escrow=escrow,
                    milestone=m,
                    opened_by_id=_buyer_id(escrow),
                    opener_role="buyer",
                    reason="Generated dispute",
                    amount=m.amount,
                    status=DisputeStatus.RESOLVED if fields else DisputeStatus.OPEN,
                    deadline=opened + timedelta(days=14),
                    default_outcome=DisputeOutcome.SPLIT,
                    default_seller_amount=seller_half,
                    default_buyer_amount=m.amount - seller_half,
                    created_at=opened,
                    updated_at=fields.get("resolved_at") or opened,
                    **fields,
                )
            )
        Dispute.objects.bulk_create(rows, batch_size=self.batch_size)
        self.dispute_of = {d.milestone_id: d for d in rows}

    def _split(self, escrow: Escrow, m: Milestone, hold: LedgerAccount, books: Books) -> list[Event]:
        """The posting and events of a dispute on `m` resolved as a split."""
        seller, buyer = escrow.seller, escrow.buyer
        assert buyer is not None
        dispute = self.dispute_of[m.pk]
        seller_part, buyer_part = dispute.seller_amount or 0, dispute.buyer_amount or 0
        self.net[seller.pk] += seller_part
        self.net[buyer.pk] += buyer_part
        books.post(
            LedgerTransaction(
                kind=TransactionKind.SPLIT,
                currency=CURRENCY,
                escrow=escrow,
                milestone=m,
                memo=dispute.public_id,
            ),
            [(hold, -m.amount), (self.main[seller.pk], seller_part), (self.main[buyer.pk], buyer_part)],
        )
        details = {"dispute": dispute.public_id, "sellerAmount": seller_part, "buyerAmount": buyer_part}
        return [
            self._event(
                "dispute.opened",
                escrow,
                buyer,
                dispute.created_at,
                milestone=m,
                to_status=DisputeStatus.OPEN,
                details={"dispute": dispute.public_id, "openedBy": "buyer"},
            ),
            self._event(
                "dispute.resolved",
                escrow,
                seller,
                m.released_at,
                milestone=m,
                from_status=DisputeStatus.OPEN,
                to_status=DisputeStatus.RESOLVED,
                details={**details, "outcome": DisputeOutcome.SPLIT},
            ),
            self._event(
                "milestone.split",
                escrow,
                seller,
                m.released_at,
                milestone=m,
                from_status=MilestoneStatus.DISPUTED,
                to_status=MilestoneStatus.SPLIT,
                details=details,
            ),
        ]

    def _event(self, kind: str, escrow: Escrow, by: User, at: datetime | None, **fields: Any) -> Event:
        return Event(
            kind=kind,
            escrow=escrow,
            actor=by,
            actor_kind=ActorKind.USER,
            created_at=at or self.now,
            dispatched_at=self.now,
            **fields,
        )

    # -- wallets -----------------------------------------------------------------------------

    def _topups_and_balances(self, customers: list[User]) -> int:
        """Each customer's wallet was topped up by what they spent plus spare, from outside."""
        books = Books()
        for c in customers:
            amount = self.spent[c.pk] + SPARE_BALANCE
            self.net[c.pk] += amount
            books.post(
                LedgerTransaction(kind=TransactionKind.TOPUP, currency=CURRENCY, memo="generated deposit"),
                [(self.outside, -amount), (self.main[c.pk], amount)],
            )
        entries = books.save(self.batch_size)
        accounts = list(self.main.values())
        for owner_id, account in self.main.items():
            account.balance = self.net[owner_id]
        LedgerAccount.objects.bulk_update(accounts, ["balance"], batch_size=self.batch_size)
        return len(books.txns) + entries
