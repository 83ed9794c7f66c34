"""Plans of every statement the measured paths send, on the run database (100,000 escrows): one
request of each path goes through the production WSGI application in this process, an
execute wrapper records each statement with its parameters (the hot, prepared statements too:
core.compiled falls back to Django's cursor while a wrapper observes), and each is EXPLAINed
(without ANALYZE, so nothing runs twice). A sequential scan of a table of more than
`LARGE_ROWS` rows is what an index was missing for; the bench counts those as violations.

Run after the correctness check: the confirm and fund requests change the run database."""

import re
from pathlib import Path
from typing import Any

from django.db import connection

LARGE_ROWS = 10_000
_NOT_EXPLAINABLE = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET", "SHOW")


def large_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples > %s "
            "AND relnamespace = 'public'::regnamespace",
            [LARGE_ROWS],
        )
        return {row[0] for row in cursor.fetchall()}


def statements_of(line: str) -> tuple[str, list[tuple[str, Any]]]:
    """One request line (bench/wrk.lua's format) through the WSGI application: its status and
    the statements it sent, with their parameters."""
    from bench.profile import send
    from escrow_site.wsgi import application

    sent: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        status = send(application, line)
    return status, sent


def seq_scans(sql: str, params: Any, large: set[str]) -> list[str]:
    """Large tables the plan of `sql` reads sequentially."""
    if sql.lstrip().split(None, 1)[0].upper() in _NOT_EXPLAINABLE:
        return []
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return sorted({t for t in re.findall(r"Seq Scan on (\w+)", plan) if t in large})


def check(lines: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    """For each path's request line: statements explained and large-table sequential scans.
    Returns the counts for the bench's correctness table and a note per scan found."""
    large = large_tables()
    explained = scans = 0
    notes: list[str] = []
    for name, line in lines.items():
        status, sent = statements_of(line)
        if not status.startswith("2"):
            notes.append(
                f"plans of {name}: its request answered {status}; its statements are explained anyway"
            )
        for sql, params in sent:
            found = seq_scans(sql, params, large)
            explained += 1
            if found:
                scans += 1
                notes.append(f"plans of {name}: sequential scan of {', '.join(found)} in: {sql[:160]}")
    label = f"statements of the paths (explained: {explained}) that scan a table of over {LARGE_ROWS:,} rows"
    return {label: scans}, notes


def request_line(file: Path, index: int) -> str:
    lines = file.read_text().splitlines()
    return lines[min(index, len(lines) - 1)]
