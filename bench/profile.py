"""Where one hot path's time goes, in process (no server, no load tool): the same requests as
`make bench` sends, through the same WSGI application and production settings, timed one after
another, then profiled with pyinstrument.

    .venv/bin/python -m bench.profile confirm|fund|list|dashboard|escrow|trivial [N]

Needs the base database of `make bench` (bench_perf); works on its own clone (bench_perf_prof,
made afresh each run, so confirms and funds have targets). After 200 warm-up requests, times
N/2 requests (default N = 1000) and prints their mean, median and CPU time per request, then
profiles N/2 more and prints pyinstrument's call tree (library frames folded, shares of the
total)."""

import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import run

DB = run.BASE_DB + "_prof"


def clone() -> None:
    run.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{DB}' AND pid <> pg_backend_pid()"
    )
    run.psql(f'DROP DATABASE IF EXISTS "{DB}"')
    run.psql(run.clone_sql(DB))
    run.psql("CHECKPOINT")


def environ_for(line: str) -> dict[str, Any]:
    method, target, body, headers = line.rstrip("\n").split("\t")
    path, _, query = target.partition("?")
    data = body.encode()
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8160",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8160",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(data)) if data else "",
    }
    for pair in filter(None, headers.split("\x1f")):
        name, _, value = pair.partition(": ")
        key = name.upper().replace("-", "_")
        env[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
    return env


def send(application: Any, line: str) -> str:
    """One request line through a WSGI application, in this process; its status line."""
    status: list[str] = []
    body = application(environ_for(line), lambda s, h, *a: status.append(s))
    b"".join(body)
    if hasattr(body, "close"):
        body.close()
    return status[0] if status else "no answer"


def main() -> int:
    which = sys.argv[1] if len(sys.argv) > 1 else "confirm"
    files = {
        "confirm": "confirm.txt",
        "fund": "fund.txt",
        "list": "api_list.txt",
        "dashboard": "dashboard.txt",
        "escrow": "escrow_page.txt",
        "trivial": "trivial.txt",
    }
    if which not in files or len(sys.argv) > 3 or (len(sys.argv) > 2 and not sys.argv[2].isdecimal()):
        print(__doc__)
        return 0 if which in ("-h", "--help") else 2
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    clone()
    os.environ.update(run.env_for(DB))
    import django

    django.setup()
    from bench import paths

    work = Path("/tmp/escrow-bench-prof")
    work.mkdir(exist_ok=True)
    paths.request_files(work)
    from django.db import connections

    connections.close_all()
    lines = (work / files[which]).read_text().splitlines()
    from escrow_site.wsgi import application

    def call(line: str) -> float:
        started = time.perf_counter()
        status = send(application, line)
        took = time.perf_counter() - started
        if not status.startswith("2"):
            raise SystemExit(f"{which}: {status} for {line[:120]}")
        return took

    warm, timed = lines[:200], lines[200 : 200 + n]
    if which not in ("confirm", "fund"):
        timed = [lines[i % len(lines)] for i in range(n)]
    for line in warm:
        call(line)
    cpu = time.process_time()
    times = [call(line) for line in timed[: n // 2]]
    cpu = time.process_time() - cpu
    # CPU time (this process: Python and its system calls) is what a loaded server runs out
    # of; wall time adds the waits on PostgreSQL and Redis.
    print(
        f"{which}: {len(times)} requests, mean {statistics.mean(times) * 1000:.2f} ms, "
        f"median {statistics.median(times) * 1000:.2f} ms, CPU {cpu / len(times) * 1000:.2f} ms"
    )
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002)
    profiler.start()
    for line in timed[n // 2 :]:
        call(line)
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False, time="percent_of_total"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
