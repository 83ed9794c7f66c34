"""Stripe's balance transactions of a period beside what our ledger says moved (docs/stripe.md,
"Reconciliation"). Read-only."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import stripe
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Sum
from django.utils import timezone

from escrows import stripe_api
from escrows.models import (
    AccountKind,
    CardPayment,
    LedgerEntry,
    Settlement,
    StripeRefund,
    TransactionKind,
)
from escrows.money import format_money

# The postings that took a card payment's money in from the card network: its funding, or (set
# aside as not applied) its giving back, which takes it in and straight back out.
CHARGE_POSTINGS = (TransactionKind.FUNDING, TransactionKind.CARD_GIVEN_BACK)
# The exit code when nothing was compared (bad dates, Stripe not configured or not answering);
# 1 is kept for differences found.
NOT_COMPARED = 2


@dataclass
class Line:
    stripe_id: str
    kind: str
    currency: str
    stripe_amount: int | None  # our minor units, signed as on the platform's balance
    fee: int
    record: str
    ours: int | None  # what our ledger moved, signed the same way

    @property
    def difference(self) -> int | None:
        if self.stripe_amount is None or self.ours is None:
            return None
        return self.stripe_amount - self.ours


def _day(value: str, name: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
    except ValueError:
        raise CommandError(
            f"{name} must be a date as YYYY-MM-DD (for example 2026-11-30), not {value!r}",
            returncode=NOT_COMPARED,
        ) from None


def _money(amount: int | None, currency: str) -> str:
    if amount is None:
        return "-"
    try:
        return format_money(amount, currency)
    except Exception:
        return f"{amount} {currency} (Stripe's units)"


def _external(kind: str, **where: Any) -> int:
    total = LedgerEntry.objects.filter(account__kind=kind, **where).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)


def _charge_in(card_payment: CardPayment) -> int:
    """What our ledger took in from the card network for this card payment."""
    return -_external(
        AccountKind.EXTERNAL_FUNDING,
        transaction__kind__in=CHARGE_POSTINGS,
        transaction__memo=card_payment.public_id,
    )


def _refund_out(refund: StripeRefund) -> int:
    if refund.ledger_transaction_id is None:
        return 0
    return _external(AccountKind.EXTERNAL_REFUNDS, transaction_id=refund.ledger_transaction_id)


def _transfer_out(settlement: Settlement) -> int:
    return _external(
        AccountKind.EXTERNAL_PAYOUTS,
        transaction__kind=TransactionKind.PAYOUT_PAID,
        transaction__settlement=settlement,
    )


class Command(BaseCommand):
    help = (
        "Stripe's balance transactions of a period (UTC) beside our records and what our ledger says "
        "moved for each: card charges (our card payments), refunds (our Stripe refunds) and transfers "
        "(our payouts to connected accounts); anything else is listed as not ours. Prints a table, then "
        "every difference in words: on Stripe but not recorded by us, recorded by us in the period but "
        "not on Stripe, amounts that differ. Stripe's processing fee is shown in its own column and is "
        "not a difference (it stays on the platform's Stripe balance). Changes nothing. "
        "Exit code 0 when nothing differs, 1 when something does, 2 when nothing could be compared "
        "(bad dates, Stripe not configured or not answering)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since", required=True, help="first day of the period, YYYY-MM-DD (UTC, from 00:00)"
        )
        parser.add_argument(
            "--until",
            help="last day of the period, YYYY-MM-DD (UTC, up to the end of that day); default: now",
        )
        parser.add_argument(
            "--page-size",
            type=int,
            default=100,
            help="how many transactions to ask Stripe for at a time (1-100)",
        )

    def handle(self, *args: object, since: str, until: str | None, page_size: int, **options: object) -> None:
        start = _day(since, "--since")
        # Stripe counts in whole seconds: now is up to the end of this second.
        end = (
            _day(until, "--until") + timedelta(days=1)
            if until
            else timezone.now().replace(microsecond=0) + timedelta(seconds=1)
        )
        if start >= end:
            raise CommandError("--since must be before --until: the period is empty", returncode=NOT_COMPARED)
        if not 1 <= page_size <= 100:
            raise CommandError("--page-size must be between 1 and 100", returncode=NOT_COMPARED)
        if not stripe_api.enabled():
            raise CommandError(
                "Stripe is not configured (STRIPE_SECRET_KEY is empty): nothing to reconcile",
                returncode=NOT_COMPARED,
            )

        lines = self._stripe_lines(start, end, page_size)
        lines += self._ours_missing(start, end, {line.record for line in lines})
        problems = self._problems(lines)

        self.stdout.write(
            f"Stripe balance transactions from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
        )
        self._table(lines)
        if problems:
            self.stdout.write(f"\n{len(problems)} difference(s):")
            for problem in problems:
                self.stdout.write(f"- {problem}")
            raise SystemExit(1)
        self.stdout.write("\nNo differences: Stripe and our ledger agree for this period.")

    def _stripe_lines(self, start: datetime, end: datetime, page_size: int) -> list[Line]:
        params: Any = {
            "created": {"gte": int(start.timestamp()), "lt": int(end.timestamp())},
            "limit": page_size,
            "expand": ["data.source"],
        }
        lines = []
        try:
            for txn in stripe_api._client().v1.balance_transactions.list(params).auto_paging_iter():
                lines.append(self._line(stripe_api.as_data(txn)))
        except stripe.StripeError as exc:
            raise CommandError(
                f"Stripe could not be asked for its balance transactions: {exc.user_message or exc}",
                returncode=NOT_COMPARED,
            ) from None
        return lines

    def _line(self, txn: dict[str, Any]) -> Line:
        source = txn.get("source")
        source_id = source.get("id", "") if isinstance(source, dict) else str(source or "")
        currency = str(txn["currency"]).upper()
        kind = str(txn.get("type") or "")
        line = Line(
            stripe_id=source_id or str(txn["id"]),
            kind=kind,
            currency=currency,
            stripe_amount=stripe_api.our_amount(int(txn["amount"]), currency),
            fee=stripe_api.our_amount(int(txn.get("fee") or 0), currency) or 0,
            record="",
            ours=None,
        )
        if kind in ("charge", "payment"):
            intent = source.get("payment_intent") if isinstance(source, dict) else None
            card_payment = (
                CardPayment.objects.filter(charge_reference=source_id).first() if source_id else None
            )
            if card_payment is None and intent:
                card_payment = CardPayment.objects.filter(provider_reference=intent).first()
            if card_payment is not None:
                line.record, line.ours = f"card payment {card_payment.public_id}", _charge_in(card_payment)
        elif kind in ("refund", "payment_refund"):
            refund = StripeRefund.objects.filter(provider_reference=source_id).first() if source_id else None
            if refund is not None:
                line.record, line.ours = f"card refund {refund.public_id}", -_refund_out(refund)
        elif kind == "transfer":
            settlement = (
                Settlement.objects.filter(provider_reference=source_id, stripe_transfer__isnull=False).first()
                if source_id
                else None
            )
            if settlement is not None:
                line.record, line.ours = f"payout {settlement.public_id}", -_transfer_out(settlement)
        else:
            line.record = "not ours"
        return line

    def _ours_missing(self, start: datetime, end: datetime, seen: set[str]) -> list[Line]:
        """Our records whose money moved in our ledger within the period and that Stripe did not list."""
        period = {"transaction__created_at__gte": start, "transaction__created_at__lt": end}
        lines = []
        charged = LedgerEntry.objects.filter(
            account__kind=AccountKind.EXTERNAL_FUNDING, transaction__kind__in=CHARGE_POSTINGS, **period
        ).values_list("transaction__memo", flat=True)
        for card_payment in CardPayment.objects.filter(public_id__in=list(charged)).exclude(
            provider_reference=""
        ):
            record = f"card payment {card_payment.public_id}"
            if record not in seen:
                seen.add(record)
                lines.append(
                    Line(
                        card_payment.provider_reference,
                        "charge",
                        card_payment.currency,
                        None,
                        0,
                        record,
                        _charge_in(card_payment),
                    )
                )
        for refund in StripeRefund.objects.filter(
            ledger_transaction__created_at__gte=start, ledger_transaction__created_at__lt=end
        ):
            record = f"card refund {refund.public_id}"
            if record not in seen:
                lines.append(
                    Line(
                        refund.provider_reference,
                        "refund",
                        refund.currency,
                        None,
                        0,
                        record,
                        -_refund_out(refund),
                    )
                )
        paid = LedgerEntry.objects.filter(
            account__kind=AccountKind.EXTERNAL_PAYOUTS,
            transaction__kind=TransactionKind.PAYOUT_PAID,
            **period,
        ).values_list("transaction__settlement_id", flat=True)
        for settlement in Settlement.objects.filter(pk__in=list(paid), stripe_transfer__isnull=False):
            record = f"payout {settlement.public_id}"
            if record not in seen:
                lines.append(
                    Line(
                        settlement.provider_reference,
                        "transfer",
                        settlement.currency,
                        None,
                        0,
                        record,
                        -_transfer_out(settlement),
                    )
                )
        return lines

    def _problems(self, lines: list[Line]) -> list[str]:
        problems = []
        for line in lines:
            if line.record == "not ours":
                continue
            if not line.record:
                problems.append(
                    f"On Stripe but not recorded by us: {line.kind} {line.stripe_id} of "
                    f"{_money(line.stripe_amount, line.currency)}."
                )
            elif line.stripe_amount is None:
                problems.append(
                    f"Recorded by us in the period but not on Stripe: {line.record} "
                    f"({line.kind} of {_money(abs(line.ours or 0), line.currency)})."
                )
            elif line.difference:
                problems.append(
                    f"Amounts differ for {line.record} ({line.kind} {line.stripe_id}): Stripe says "
                    f"{_money(line.stripe_amount, line.currency)}, "
                    f"our ledger {_money(line.ours, line.currency)} "
                    f"(a difference of {_money(line.difference, line.currency)})."
                )
        return problems

    def _table(self, lines: list[Line]) -> None:
        header = (
            "Stripe id",
            "type",
            "Stripe amount",
            "Stripe fee",
            "our record",
            "our amount",
            "difference",
        )
        rows = [header] + [
            (
                line.stripe_id or "-",
                line.kind,
                _money(line.stripe_amount, line.currency),
                _money(line.fee, line.currency) if line.fee else "-",
                line.record or "not recorded by us",
                _money(line.ours, line.currency),
                _money(line.difference, line.currency) if line.difference is not None else "-",
            )
            for line in lines
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            self.stdout.write(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
