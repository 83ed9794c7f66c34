"""`make bench`: the hot paths under load against the production server setup, next to the
ceilings measured in the same run (pgbench running one confirm's exact SQL; a trivial DRF view).

Steps: make the base database once (`generate_data`, 100,000 escrows) and clone it for the run
(so every run starts from the same data), collect static files, capture the confirm SQL into a
pgbench script, write request lists, start the server (DEBUG off, pooled connections), warm
every path up, then wrk at 1/4/16 connections per path; each confirm cell is followed at once by
pgbench (prepared) at the same client count, the simple-protocol pgbench rows come last (each
on a fresh copy of the database as it was before the load). Lines of a one-shot list (confirm,
fund) that a lagging wrk thread skipped are sent between cells. Last, the ledger and the load's
changes are checked in SQL (bench/verify.py) and every statement of one request per path is
EXPLAINed for sequential scans of large tables (bench/explain.py); the run fails on any
violation. Prints a table and writes bench/results/latest.md and .json.

Environment knobs: BENCH_ESCROWS (100000), BENCH_SECONDS per measurement (6), BENCH_CLIENTS
(1,4,16), BENCH_SERVER (gunicorn|granian), BENCH_WORKER_CLASS (gunicorn's -k: sync),
BENCH_WORKERS (2), BENCH_PORT (8160), BENCH_DB (bench_perf), PGHOST/PGUSER (/var/run/postgresql
if PostgreSQL's socket is there, else 127.0.0.1 / postgres).
"""

import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PY = ROOT / ".venv" / "bin" / "python"
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/escrow-bench"))
# The app and pgbench reach PostgreSQL the same way: over its Unix socket when it has one here
# (as a server on the same host would be set up; a round trip costs less than over TCP), else
# 127.0.0.1. PGHOST=127.0.0.1 measures TCP.
_SOCKET_DIR = "/var/run/postgresql"
PGHOST = os.environ.get(
    "PGHOST", _SOCKET_DIR if os.path.exists(f"{_SOCKET_DIR}/.s.PGSQL.5432") else "127.0.0.1"
)
PGUSER = os.environ.get("PGUSER", "postgres")
BASE_DB = os.environ.get("BENCH_DB", "bench_perf")
RUN_DB = BASE_DB + "_run"
# The simple-protocol cells run last, each on a fresh copy of the run database as it was before
# the load (SNAP_DB), so they have every target the prepared cells had (on a fast machine those
# took most of them, and the simple cells were cut short).
SNAP_DB = RUN_DB + "_snap"
SIMPLE_DB = RUN_DB + "_simple"
ESCROWS = int(os.environ.get("BENCH_ESCROWS", "100000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "6"))
CLIENTS = [int(c) for c in os.environ.get("BENCH_CLIENTS", "1,4,16").split(",")]
SERVER = os.environ.get("BENCH_SERVER", "gunicorn")
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
PORT = int(os.environ.get("BENCH_PORT", "8160"))
# Comparisons: BENCH_ONLY=confirm,trivial runs only the paths whose names start so; BENCH_TAG
# names the results file (results/latest-TAG.md) so a comparison does not replace the table.
ONLY = [p.strip() for p in os.environ.get("BENCH_ONLY", "").split(",") if p.strip()]
TAG = os.environ.get("BENCH_TAG", "")
# Redis db 4 is this benchmark's: broker for the published tasks (no worker consumes them
# during the run; the db is flushed at the start) and the cache (rate-limit counters).
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/4")


def db_url(name: str) -> str:
    # PGHOST may be a socket directory (/var/run/postgresql): percent-encoded in the URL.
    host = quote(PGHOST, safe="") if PGHOST.startswith("/") else PGHOST
    return f"postgres://{PGUSER}@{host}:5432/{name}"


def env_for(dbname: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": db_url(dbname),
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "0",
        "SECURE_HTTPS": "0",
        "LOG_LEVEL": "ERROR",
        # As in production, after-commit tasks (webhook dispatch, payouts) are published to a
        # broker for workers elsewhere, not run inside the request (the eager default).
        "CELERY_BROKER_URL": BROKER_URL,
        "DB_POOL_MIN": os.environ.get("DB_POOL_MIN", "2"),
        "DB_POOL_MAX": os.environ.get("DB_POOL_MAX", "4"),
    }


def psql(sql: str, db: str = "postgres") -> str:
    return subprocess.run(
        ["psql", "-h", PGHOST, "-U", PGUSER, "-d", db, "-Atqc", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def manage(*args: str, db: str) -> None:
    subprocess.run([str(PY), "manage.py", *args], cwd=ROOT, env=env_for(db), check=True)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- data --------------------------------------------------------------------------------


def prepare_databases() -> None:
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{BASE_DB}'"):
        psql(f'CREATE DATABASE "{BASE_DB}"')
    manage("migrate", "--no-input", "-v", "0", db=BASE_DB)
    have = int(psql("SELECT count(*) FROM escrows_escrow", BASE_DB))
    if have < ESCROWS:
        log(f"generating {ESCROWS - have} escrows into {BASE_DB} (once; later runs reuse them)")
        manage("generate_data", "--escrows", str(ESCROWS - have), "--seed", "1", db=BASE_DB)
    # Planner statistics travel with the clone; without them the plans are not production's.
    psql("VACUUM ANALYZE", BASE_DB)
    fresh_clone(RUN_DB, BASE_DB)


def fresh_clone(name: str, template: str) -> None:
    log(f"cloning {template} -> {name}")
    psql(
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname IN ('{template}', '{name}') AND pid <> pg_backend_pid()"
    )
    psql(f'DROP DATABASE IF EXISTS "{name}"')
    psql(clone_sql(name, template))


def clone_sql(name: str, template: str = BASE_DB) -> str:
    """A copy of the base database. PostgreSQL 15 copies through the WAL by default: 600 MB of
    WAL whose checkpoint then ran during the first measurements (a confirm at 1 client waited up
    to 0.4 s on its commit's flush). FILE_COPY copies the files between two checkpoints."""
    strategy = " STRATEGY = FILE_COPY" if int(psql("SHOW server_version_num")) >= 150000 else ""
    return f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}'


# -- request lists -----------------------------------------------------------------------


def build_requests() -> tuple[list[Any], dict[str, Any]]:
    """Runs inside Django (the run database): request lists for every path, and the pgbench
    scripts. Paths whose views are not in this tree are left out (and said so)."""
    from bench import paths
    from bench.confirm_sql import build

    scripts, confirm_queries = build(WORK)
    out, notes = paths.request_files(WORK)
    info = {
        "pgbench_scripts": {s.kind: s.targets for s in scripts},
        "confirm_queries": confirm_queries,
        "notes": notes,
    }
    return out, info


# -- server ------------------------------------------------------------------------------


def start_server() -> subprocess.Popen:
    env = env_for(RUN_DB)
    if SERVER == "gunicorn":
        cmd = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "escrow_site.wsgi",
            "-w",
            str(WORKERS),
            "-k",
            os.environ.get("BENCH_WORKER_CLASS", "sync"),
            "-b",
            f"127.0.0.1:{PORT}",
            "--backlog",
            "2048",
            "--max-requests",
            "0",
            "--log-level",
            "warning",
        ]
    else:
        cmd = [
            str(ROOT / ".venv" / "bin" / "granian"),
            "--interface",
            "wsgi",
            "--workers",
            str(WORKERS),
            "--blocking-threads",
            "1",
            "--host",
            "127.0.0.1",
            "--port",
            str(PORT),
            "--no-ws",
            "--log-level",
            "warning",
            "escrow_site.wsgi:application",
        ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"{SERVER} did not answer on port {PORT}")


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def worker_rss_kb(proc: subprocess.Popen) -> list[int]:
    """Resident memory of the server's worker processes (children of the master)."""
    out = subprocess.run(["ps", "-o", "pid=,ppid=,rss=", "-g", str(proc.pid)], capture_output=True, text=True)
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()]
    return sorted(int(rss) for pid, ppid, rss in rows if int(pid) != proc.pid)


# -- measuring ---------------------------------------------------------------------------


@dataclass
class Result:
    path: str
    clients: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def drain() -> None:
    """Wait until the requests a cell left queued are served. When wrk stops, the requests its
    other connections had sent still sit in the listen queue and the sync workers serve them
    all (16 dashboard pages: 0.2 s), which put the next cell's first requests in its p99. The
    queue is first come, first served, so a health check answered means the ones before it
    were taken; a second one covers the other worker's last."""
    for _ in range(WORKERS):
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=30) as r:  # noqa: S310
            r.read()


def run_wrk(p: Any, clients: int, seconds: int, start: int = 0) -> Result:
    drain()
    threads = min(clients, 2)
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(clients),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / "wrk.lua"),
            f"http://127.0.0.1:{PORT}",
            "--",
            str(p.file),
            str(threads),
            str(start),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out.split("WRKJSON ", 1)[1].splitlines()[0])
    secs = data["duration_us"] / 1e6
    return Result(
        p.name,
        clients,
        data["requests"] / secs,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["requests"],
        data["status_errors"] + data["socket_errors"],
        {
            "http_errors": data["status_errors"],
            "socket_errors": data["socket_errors"],
            "consumed": data["consumed"],
            "used": data["used"],
        },
    )


def unsent_lines(start: int, consumed: int, used: list[int]) -> list[int]:
    """Lines of a one-shot list, before the farthest one sent (start + consumed), that a lagging
    wrk thread never sent. Thread t of n takes lines start + t, start + t + n, ... and sent the
    first used[t] of them. The next run starts past `consumed`: left unsent, these milestones
    would stay unreleased and their escrows' next confirms would fail (400) in later cells."""
    n = len(used)
    return [
        start + t + n * k
        for t in range(n)
        for k in range(used[t], (consumed - t + n - 1) // n if consumed > t else 0)
    ]


def catch_up(p: Any, start: int, r: Result) -> int:
    """Sends, one after another and unmeasured, the lines a cell skipped (unsent_lines); returns
    how many did not answer 2xx."""
    lines = p.file.read_text().splitlines()
    failed = 0
    todo = unsent_lines(start, r.extra["consumed"], r.extra["used"])
    if todo:
        log(f"{p.name}: sending {len(todo)} lines a lagging wrk thread skipped")
    for i in todo:
        method, target, body, headers = lines[i].split("\t")
        request = urllib.request.Request(  # noqa: S310 - the bench's own server
            f"http://127.0.0.1:{PORT}{target}", data=body.encode() or None, method=method
        )
        for pair in filter(None, headers.split("\x1f")):
            name, _, value = pair.partition(": ")
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                answer.read()
        except urllib.error.URLError:  # HTTPError (a non-2xx) included
            failed += 1
    return failed


def run_pgbench(
    clients: int, seconds: int, weights: dict[str, int], mode: str = "prepared", db: str = RUN_DB
) -> Result:
    logdir = WORK / f"pgbench-{mode}-{clients}"
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)
    scripts = [f"{WORK / f'confirm_{k}.sql'}@{w}" for k, w in weights.items() if w > 0]
    cmd = ["pgbench", "-n", "-M", mode, "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds)]
    for s in scripts:
        cmd += ["-f", s]
    cmd += ["-l", f"--log-prefix={logdir}/tx", "-h", PGHOST, "-U", PGUSER, db]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench failed: {proc.stdout}\n{proc.stderr}")
    found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", proc.stdout)
    if found is None:
        raise RuntimeError(f"pgbench printed no tps: {proc.stdout}")
    tps = float(found.group(1))
    failed = re.search(r"number of failed transactions: (\d+)", proc.stdout)
    lat: list[int] = []
    for f in logdir.iterdir():
        lat += [int(line.split()[2]) for line in f.read_text().splitlines() if line]
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return Result(
        f"pgbench confirm SQL ({mode})",
        clients,
        tps,
        q[49] / 1000,
        q[98] / 1000,
        len(lat),
        int(failed.group(1)) if failed else 0,
    )


def main() -> int:
    if shutil.which("wrk") is None or shutil.which("pgbench") is None:
        print("make bench needs wrk and pgbench: apt-get install -y wrk postgresql-client", file=sys.stderr)
        return 2
    started = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()
    prepare_databases()
    log("collectstatic (hashed, compressed names: DEBUG off)")
    manage("collectstatic", "--no-input", "-v", "0", db=RUN_DB)

    os.environ.update(env_for(RUN_DB))
    import django

    django.setup()
    log("capturing the confirm SQL and writing request lists")
    paths, info = build_requests()
    if ONLY:
        paths = [p for p in paths if any(p.name.startswith(o) for o in ONLY)]
    from django.db import connections

    connections.close_all()
    # The pool's idle connections too: cloning ends every session on the template.
    connections["default"].close_pool()  # type: ignore[attr-defined]  # PostgreSQL's backend (the bench's)
    fresh_clone(SNAP_DB, RUN_DB)

    log(f"starting {SERVER} ({WORKERS} workers) on 127.0.0.1:{PORT}")
    server = start_server()
    results: list[Result] = []
    rss: dict[str, list[int]] = {}
    warmed: dict[str, int] = {}  # lines of each one-shot path its warm-up sent
    skipped: dict[str, int] = {p.name: 0 for p in paths}  # caught-up lines that did not answer 2xx
    sent_lines: dict[str, Any] = {}  # one-shot lists: lines sent (then, after the run, their ids)
    try:
        for p in paths:
            # Warm-up: imports, pool, prepared statements, caches. A one-shot path warms up on
            # its first lines and is measured from the line after (its first requests on a
            # cold worker took up to 0.4 s and made the 1-client p99).
            warmed[p.name] = 0
            if p.one_shot:
                r = run_wrk(p, 4, 2)
                skipped[p.name] += catch_up(p, 0, r)
                warmed[p.name] = r.extra["consumed"]
        # The set-up's writes (targets tables, captured release) flushed now, not mid-measurement.
        psql("CHECKPOINT")
        rss["start"] = worker_rss_kb(server)
        for p in paths:
            sent = warmed[p.name]
            for clients in CLIENTS:
                r = run_wrk(p, clients, SECONDS, start=sent if p.one_shot else 0)
                log(
                    f"{p.name:28} c={clients:<3} {r.rps:8.0f} req/s  "
                    f"p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms"
                )
                results.append(r)
                if p.name.startswith("confirm"):
                    # The ceiling right after, at the same clients, on the same mix of middle
                    # and last milestones: this VM's speed drifts by 20-30% within minutes, so
                    # the two halves of a ratio are measured next to each other.
                    drain()
                    results.append(log_pgbench(clients, confirm_mix(sent, r.extra["consumed"]), "prepared"))
                # Past the farthest line any wrk thread sent (requests still in flight when
                # wrk stopped may have run too), after sending what a lagging thread skipped.
                if p.one_shot:
                    skipped[p.name] += catch_up(p, sent, r)
                sent += r.extra["consumed"]
            sent_lines[p.name] = sent
            rss[p.name] = worker_rss_kb(server)
        # Memory over a long run of one path: the list again, as many requests as all the
        # paths above sent, RSS read after each quarter (flat once the caches are warm).
        again = next((p for p in paths if p.name.startswith("API list")), None)
        if again is not None and not ONLY:
            for quarter in range(1, 5):
                r = run_wrk(again, 4, 2 * SECONDS)
                rss[f"list again, quarter {quarter} ({r.requests} requests)"] = worker_rss_kb(server)
        rss["end"] = worker_rss_kb(server)
    finally:
        stop_server(server)
    for name, failed in skipped.items():
        if failed:
            info["notes"].append(f"{name}: {failed} skipped lines sent between cells did not answer 2xx")

    # The simple-protocol ceiling (for comparison only), weighted as all the confirms measured.
    confirm = next((p for p in paths if p.name.startswith("confirm")), None)
    measured = sum(r.extra["consumed"] for r in results if confirm and r.path == confirm.name)
    weights = confirm_mix(warmed.get(confirm.name, 0), measured) if confirm else {"mid": 2, "last": 1}
    for clients in CLIENTS:
        # Each on a fresh copy of the database as it was before the load (SNAP_DB). Should even
        # that have too few targets for a cell (pgbench aborts with "expected one row, got 0"),
        # the cell runs for fewer seconds, or is left out below one second; the notes say so.
        fresh_clone(SIMPLE_DB, SNAP_DB)
        prepared = by_cell(results, "pgbench confirm SQL (prepared)", clients)
        rate = 1.5 * (prepared.rps if prepared else 0)  # simple is slower than prepared
        seconds = SECONDS
        while seconds and targets_short(weights, rate * seconds, SIMPLE_DB):
            seconds -= 1
        if seconds < SECONDS:
            short = targets_short(weights, rate * SECONDS, SIMPLE_DB)
            what = f"ran {seconds} s" if seconds else "left out"
            log(f"pgbench confirm SQL (simple) c={clients:<3} {what}: {short}")
            info["notes"].append(f"simple-protocol pgbench at {clients} clients {what}: {short}")
        if seconds:
            results.append(log_pgbench(clients, weights, "simple", seconds, SIMPLE_DB))
    for name in (SIMPLE_DB, SNAP_DB):
        psql(f'DROP DATABASE IF EXISTS "{name}"')
    log("checking the ledger and the changes the load asked for")
    from bench import explain, verify

    checks = verify.ledger_checks()
    # One request of each path (one-shot lists: the first line not sent) for the plans below.
    explain_lines = {
        p.name: explain.request_line(p.file, sent_lines.get(p.name, 0))
        for p in paths
        if not p.name.startswith("trivial")
    }
    for p in paths:
        if p.one_shot:
            sent_lines[p.name] = verify.sent_ids(
                p.file, sent_lines[p.name], "milestone" if p.name.startswith("confirm") else "intent"
            )
    checks.update(
        verify.not_done(
            next((ids for name, ids in sent_lines.items() if name.startswith("confirm")), []),
            next((ids for name, ids in sent_lines.items() if name.startswith("fund")), []),
        )
    )
    log("explaining every statement of one request of each path")
    plan_checks, plan_notes = explain.check(explain_lines)
    checks.update(plan_checks)
    info["notes"] += plan_notes
    info["checks"] = checks
    report(results, rss, info, weights, time.monotonic() - started)
    return 1 if any(checks.values()) else 0


def by_cell(results: list[Result], path: str, clients: int) -> Result | None:
    return next((r for r in results if r.path == path and r.clients == clients), None)


def targets_short(weights: dict[str, int], transactions: float, db: str = RUN_DB) -> str:
    """Which pgbench targets tables have fewer unused rows than `transactions` (split by the
    weights) would take; empty when all have enough."""
    total = sum(weights.values()) or 1
    short = []
    for kind, weight in weights.items():
        if weight <= 0:
            continue
        left = int(
            psql(
                f"SELECT (SELECT count(*) FROM bench_confirm_{kind}) - "
                f"(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bench_confirm_{kind}_seq)",
                db,
            )
        )
        need = int(transactions * weight / total)
        if left < need:
            short.append(f"{left} {kind} targets left, ~{need} needed")
    return "; ".join(short)


def log_pgbench(
    clients: int, weights: dict[str, int], mode: str, seconds: int = SECONDS, db: str = RUN_DB
) -> Result:
    r = run_pgbench(clients, seconds, weights, mode, db)
    log(f"{r.path:28} c={clients:<3} {r.rps:8.0f} tps    p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms")
    return r


def confirm_mix(first: int, count: int) -> dict[str, int]:
    """Middle and last milestones (the last also closes its escrow) among `count` confirm lines
    from line `first`: the pgbench scripts are weighted so."""
    kinds = [line.rsplit("\t", 1)[-1] for line in (WORK / "confirm_kinds.txt").read_text().splitlines()]
    consumed = kinds[first : first + max(count, 1)]
    last = sum(1 for k in consumed if k == "last")
    return {"mid": max(len(consumed) - last, 0), "last": last}


def report(
    results: list[Result],
    rss: dict[str, list[int]],
    info: dict[str, Any],
    weights: dict[str, int],
    took: float,
) -> None:
    by = {(r.path, r.clients): r for r in results}
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"PostgreSQL {psql('SHOW server_version')} via {PGHOST}, server {SERVER} x{WORKERS} workers, "
        f"DB_SERVER_SIDE_BINDING={os.environ.get('DB_SERVER_SIDE_BINDING', '0')}, "
        f"HOT_STATEMENTS={os.environ.get('HOT_STATEMENTS', '1')}, "
        f"DB_PREPARE_HOT={os.environ.get('DB_PREPARE_HOT', '1')}, "
        f"DB_GENERIC_PLANS={os.environ.get('DB_GENERIC_PLANS', '1')}, "
        f"{SECONDS}s per cell, load tool wrk (same machine), took {took:.0f}s",
        "",
        "| path | clients | req/s | p50 ms | p99 ms | errors (HTTP non-2xx + socket) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.path} | {r.clients} | {r.rps:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
            f"{r.errors} ({r.extra.get('http_errors', 0)} + {r.extra.get('socket_errors', 0)}) |"
        )
    lines += ["", "| ratio | " + " | ".join(f"{c} clients" for c in CLIENTS) + " |"]
    lines.append("|---|" + "---:|" * len(CLIENTS))
    confirm = next((r.path for r in results if r.path.startswith("confirm")), None)
    if confirm:
        for label, ceiling in (
            ("confirm / pgbench (prepared)", "pgbench confirm SQL (prepared)"),
            ("confirm / pgbench (simple)", "pgbench confirm SQL (simple)"),
            ("confirm / trivial DRF view", "trivial DRF view"),
        ):
            cells = []
            for c in CLIENTS:
                a, b = by.get((confirm, c)), by.get((ceiling, c))
                cells.append(f"{a.rps / b.rps:.2f}" if a and b and b.rps else "-")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| worker RSS (KB) after | workers |", "|---|---|"]
    lines += [f"| {name} | {kb} |" for name, kb in rss.items()]
    lines += [
        "",
        f"Requests measured above (besides warm-up and the memory run): "
        f"{sum(r.requests for r in results if not r.path.startswith('pgbench'))}",
        f"One confirm (middle milestone) = {info['confirm_queries']} statements, BEGIN/COMMIT included; "
        f"pgbench mix "
        f"(middle:last milestone) {weights['mid']}:{weights['last']}, targets {info['pgbench_scripts']}",
    ]
    lines += [f"Note: {n}" for n in info["notes"]]
    checks = info.get("checks", {})
    if checks:
        lines += ["", "| after the run: correctness check | violations |", "|---|---:|"]
        lines += [f"| {name} | {count} |" for name, count in checks.items()]
    text = "\n".join(lines)
    print("\n" + text)
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    name = f"latest-{TAG}" if TAG else "latest"
    (out / f"{name}.md").write_text(text + "\n")
    (out / f"{name}.json").write_text(
        json.dumps({"results": [asdict(r) for r in results], "rss_kb": rss, **info}, indent=1)
    )


if __name__ == "__main__":
    sys.exit(main())
