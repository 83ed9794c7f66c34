"""Correctness after `make bench`: the load changed money on the run database (HTTP confirms and
funds, pgbench's releases), so the run ends by checking, in SQL over the whole data set, what
tests/helpers.assert_ledger_invariants checks in the tests, and that every confirm and fund line
sent was carried out exactly once. A speed bought by losing or doubling money would show here.

Each check counts violations; the run fails when any count is not 0."""

import re
from collections.abc import Iterable
from pathlib import Path

from django.db import connection

from escrows.ledger import TRACKED_KINDS
from escrows.models import (
    EXTERNAL_KINDS,
    SETTLED_MILESTONE_STATUSES,
    AccountKind,
    EscrowStatus,
    MilestoneStatus,
    TransactionKind,
)

_ID = re.compile(r"(milestone|intent)_[0-9a-f]+")


def _sql_list(values: Iterable[object]) -> str:
    return ", ".join(f"'{v}'" for v in sorted(str(v) for v in values))


def ledger_checks() -> dict[str, int]:
    checks = {
        "ledger transactions that do not sum to zero": """
            SELECT count(*) FROM (
                SELECT transaction_id FROM escrows_ledgerentry GROUP BY 1 HAVING sum(amount) <> 0
            ) t""",
        "accounts whose balance is not the sum of their entries": f"""
            SELECT count(*) FROM escrows_ledgeraccount a
            LEFT JOIN (SELECT account_id, sum(amount) AS s FROM escrows_ledgerentry GROUP BY 1) e
                   ON e.account_id = a.id
            WHERE a.kind IN ({_sql_list(TRACKED_KINDS)}) AND a.balance <> coalesce(e.s, 0)""",
        "internal accounts below zero": f"""
            SELECT count(*) FROM (
                SELECT e.account_id FROM escrows_ledgerentry e
                JOIN escrows_ledgeraccount a ON a.id = e.account_id
                WHERE a.kind NOT IN ({_sql_list(EXTERNAL_KINDS)})
                GROUP BY 1 HAVING sum(e.amount) < 0
            ) t""",
        "milestones released twice or released without a release posting": f"""
            SELECT count(*) FROM escrows_milestone m
            FULL JOIN (
                SELECT milestone_id, count(*) AS n FROM escrows_ledgertransaction
                WHERE kind = '{TransactionKind.RELEASE}' AND milestone_id IS NOT NULL GROUP BY 1
            ) r ON r.milestone_id = m.id
            WHERE coalesce(r.n, 0) <> CASE WHEN m.status = '{MilestoneStatus.RELEASED}' THEN 1 ELSE 0 END
              AND (m.status = '{MilestoneStatus.RELEASED}' OR r.n IS NOT NULL)""",
        "open escrows whose hold is not their unsettled milestones": f"""
            SELECT count(*) FROM escrows_escrow e
            JOIN escrows_ledgeraccount h ON h.escrow_id = e.id AND h.kind = '{AccountKind.ESCROW_HOLD}'
            LEFT JOIN (
                SELECT escrow_id, sum(amount) AS s FROM escrows_milestone
                WHERE status NOT IN ({_sql_list(SETTLED_MILESTONE_STATUSES)}) GROUP BY 1
            ) u ON u.escrow_id = e.id
            WHERE e.status IN ('{EscrowStatus.OPENED}', '{EscrowStatus.DISPUTED}')
              AND h.balance <> coalesce(u.s, 0)""",
        "closed escrows still holding money": f"""
            SELECT count(*) FROM escrows_escrow e
            JOIN escrows_ledgeraccount h ON h.escrow_id = e.id AND h.kind = '{AccountKind.ESCROW_HOLD}'
            WHERE e.status NOT IN ('{EscrowStatus.OPENED}', '{EscrowStatus.DISPUTED}') AND h.balance <> 0""",
    }
    out = {}
    with connection.cursor() as cursor:
        for name, sql in checks.items():
            cursor.execute(sql)
            out[name] = cursor.fetchone()[0]
    return out


def sent_ids(file: Path, sent: int, kind: str) -> list[str]:
    """The `kind` ids ("milestone" or "intent") named by the first `sent` lines of a list."""
    ids = []
    for line in file.read_text().splitlines()[:sent]:
        found = [m.group(0) for m in _ID.finditer(line) if m.group(1) == kind]
        if found:
            ids.append(found[-1])
    return ids


def not_done(confirmed: list[str], funded: list[str]) -> dict[str, int]:
    """Lines sent whose change is not in the database: a confirmed milestone not released, a paid
    escrow not funded (it is OPENED, or CLOSED when the load confirmed it through)."""
    out = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM escrows_milestone WHERE public_id = ANY(%s) AND status <> %s",
            [confirmed, MilestoneStatus.RELEASED],
        )
        out[f"confirmed milestones (of {len(confirmed)} sent) not released"] = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM escrows_escrow WHERE public_id = ANY(%s) AND status = %s",
            [funded, EscrowStatus.AWAITING_PAYMENT],
        )
        out[f"paid escrows (of {len(funded)} sent) still awaiting payment"] = cursor.fetchone()[0]
    return out
