"""The database's own ceiling for a confirm: the exact SQL that services.milestone_release sends,
captured from a real release and turned into a pgbench script.

Each captured statement keeps its text; its parameters become pgbench variables where they are
the target's ids and amounts (read per transaction from a targets table, one unused milestone
each, so every transaction releases a different milestone just like the HTTP benchmark), `now()`
for timestamps, a fresh random id for the event's public id, and literals otherwise. Two scripts:
a middle milestone, and the last one (which also closes the escrow), weighted as in the HTTP run.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from escrows import services
from escrows.models import Milestone

# Escrows whose releases are what the scripts replay: no milestone frozen or refunded (the
# last release then closes the escrow, as the "last" script does), no auto-release of the next
# milestones, no payout scheduled. The HTTP list (bench/paths.py) takes the same kind.
PLAIN_ESCROW = (
    "NOT e.auto_release_on_proof AND e.settlement_method = '' AND NOT EXISTS ("
    "SELECT 1 FROM escrows_milestone o WHERE o.escrow_id = e.id "
    "AND o.status NOT IN ('PENDING', 'COMPLETED', 'RELEASED'))"
)


TARGETS_SQL = """
DROP TABLE IF EXISTS bench_confirm_{kind};
DROP SEQUENCE IF EXISTS bench_confirm_{kind}_seq;
CREATE TABLE bench_confirm_{kind} AS
SELECT row_number() OVER (ORDER BY escrow_id, milestone_id) AS n, *
FROM (
    SELECT e.id AS escrow_id, m.id AS milestone_id, h.id AS hold_id, a.id AS payee_account_id,
           e.seller_id, e.buyer_id, m.amount, -m.amount AS neg_amount,
           m.id = max(m.id) OVER (PARTITION BY e.id) AS is_last
    FROM escrows_escrow e
    JOIN escrows_milestone m ON m.escrow_id = e.id AND m.status IN ('PENDING', 'COMPLETED')
    JOIN escrows_ledgeraccount h ON h.escrow_id = e.id
    JOIN escrows_ledgeraccount a ON a.owner_id = e.seller_id AND a.kind = 'CUSTOMER_MAIN'
         AND a.currency = e.currency AND a.escrow_id IS NULL
    WHERE e.status = 'OPENED' AND e.id % 4 <> 0 AND m.payee_id IS NULL AND {plain}
) t WHERE is_last = {is_last}{equalities};
ALTER TABLE bench_confirm_{kind} ADD PRIMARY KEY (n);
CREATE SEQUENCE bench_confirm_{kind}_seq;
"""


@dataclass(frozen=True)
class Script:
    kind: str  # "mid" or "last"
    text: str
    targets: int


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(int(value)) if isinstance(value, int) else str(value)
    if isinstance(value, datetime):
        return "now()"
    if hasattr(value, "obj"):  # psycopg Json / Jsonb wrappers
        value = json.dumps(value.obj)
    text = str(value)
    if text.startswith("evt_"):
        # Event public ids are unique: a fresh one per transaction, as new_event_id() makes.
        return "('evt_' || substr(md5(random()::text), 1, 24))"
    return "'" + text.replace("'", "''") + "'"


def _render(value: Any, variables: dict[int, str]) -> str:
    if isinstance(value, list | tuple):
        return "ARRAY[" + ", ".join(_render(v, variables) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool) and int(value) in variables:
        return ":" + variables[int(value)]
    return _literal(value)


def _equalities(target: dict[str, int]) -> str:
    """Names that share a value in the sample (the generator gives a customer's main account the
    customer's id, for one) share one variable; the targets table keeps only rows where they
    are equal too, so the template stays exact for every row."""
    first: dict[int, str] = {}
    conditions = []
    for name, value in target.items():
        if value in first:
            conditions.append(f" AND {first[value]} = {name}")
        else:
            first[value] = name
    return "".join(conditions)


def _to_pgbench(kind: str, statements: list[tuple[str, Any]], target: dict[str, int]) -> str:
    variables: dict[int, str] = {}
    for name, value in target.items():
        variables.setdefault(value, name)
    lines = [
        f"SELECT {', '.join(target)} FROM bench_confirm_{kind} "
        f"WHERE n = (SELECT nextval('bench_confirm_{kind}_seq')) \\gset",
        "BEGIN;",
    ]
    for sql, params in statements:
        parts = sql.split("%s")
        if len(parts) - 1 != len(params or ()):
            raise ValueError(f"placeholder count differs from params: {sql}")
        out = parts[0]
        for value, rest in zip(params or (), parts[1:], strict=True):
            out += _render(value, variables) + rest
        lines.append(" ".join(out.replace("%%", "%").split()) + ";")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def _target_of(milestone: Milestone) -> dict[str, int]:
    escrow = milestone.escrow
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT h.id, a.id FROM escrows_ledgeraccount h, escrows_ledgeraccount a "
            "WHERE h.escrow_id = %s AND a.owner_id = %s AND a.kind = 'CUSTOMER_MAIN' "
            "AND a.currency = %s AND a.escrow_id IS NULL",
            [escrow.pk, escrow.seller_id, escrow.currency],
        )
        hold_id, payee_account_id = cursor.fetchone()
    return {
        "escrow_id": escrow.pk,
        "milestone_id": milestone.pk,
        "hold_id": hold_id,
        "payee_account_id": payee_account_id,
        "seller_id": escrow.seller_id,
        "buyer_id": escrow.buyer_id,
        "amount": milestone.amount,
        "neg_amount": -milestone.amount,
    }


def capture_release(milestone: Milestone) -> tuple[list[tuple[str, Any]], int]:
    """Release one milestone for real; return its statements (SQL + params) and the number of
    queries Django's CaptureQueriesContext saw (BEGIN/COMMIT are added around the script).
    Always the hot statements' SQL, also in a run with HOT_STATEMENTS=0, so that the ceiling is
    the same SQL in both (the ORM's posting would also replay the captured transaction id)."""
    statements: list[tuple[str, Any]] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with (
        override_settings(HOT_STATEMENTS=True),
        CaptureQueriesContext(connection) as captured,
        connection.execute_wrapper(keep),
    ):
        services.milestone_release(milestone=milestone, by=milestone.escrow.buyer)
    return statements, len(captured.captured_queries)


SAMPLE_SQL = """
SELECT e.id FROM escrows_escrow e
JOIN escrows_milestone m ON m.escrow_id = e.id AND m.status IN ('PENDING', 'COMPLETED')
WHERE e.status = 'OPENED' AND e.id % 4 <> 0 AND {plain}
  AND EXISTS (SELECT 1 FROM escrows_ledgeraccount h WHERE h.escrow_id = e.id)
GROUP BY e.id HAVING count(*) = 2 AND count(m.payee_id) = 0
ORDER BY e.id DESC LIMIT 20
"""


def build(out_dir: Path) -> tuple[list[Script], int]:
    """Capture a sample confirm, create the targets tables (escrow ids not divisible by 4: the
    HTTP benchmark takes the others; pgbench, several times faster, needs the larger share) and
    write confirm_mid.sql / confirm_last.sql. Returns the scripts with their number of targets,
    and the number of queries one confirm sends."""
    with connection.cursor() as cursor:
        cursor.execute(SAMPLE_SQL.format(plain=PLAIN_ESCROW))
        candidates = [row[0] for row in cursor.fetchall()]
    texts: dict[str, str] = {}
    equalities: dict[str, str] = {}
    queries = 0
    for escrow_id in candidates:
        mid, last = (
            Milestone.objects.select_related("escrow__buyer")
            .filter(escrow_id=escrow_id, status__in=["PENDING", "COMPLETED"])
            .order_by("index")
        )
        targets = [_target_of(mid), _target_of(last)]
        if any(t["amount"] in (t["escrow_id"], t["milestone_id"], t["hold_id"]) for t in targets):
            continue  # an amount equal to an id would make the template depend on luck
        mid_sql, queries = capture_release(mid)
        last_sql, _ = capture_release(last)
        texts = {
            "mid": _to_pgbench("mid", mid_sql, targets[0]),
            "last": _to_pgbench("last", last_sql, targets[1]),
        }
        equalities = {"mid": _equalities(targets[0]), "last": _equalities(targets[1])}
        break
    if not texts:
        raise RuntimeError("no open escrow with two milestones to go to capture a confirm from")
    out: list[Script] = []
    with connection.cursor() as cursor:
        for kind, text in texts.items():
            is_last = "true" if kind == "last" else "false"
            cursor.execute(
                TARGETS_SQL.format(
                    kind=kind, is_last=is_last, equalities=equalities[kind], plain=PLAIN_ESCROW
                )
            )
            cursor.execute(f"SELECT count(*) FROM bench_confirm_{kind}")  # noqa: S608
            (out_dir / f"confirm_{kind}.sql").write_text(text)
            out.append(Script(kind, text, cursor.fetchone()[0]))
    return out, queries
