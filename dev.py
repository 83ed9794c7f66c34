#!/usr/bin/env python3
"""Set-up and run, needing nothing but Python 3.12.

    python3 dev.py serve [--port 8000]   # the site on SQLite, demo data, tasks and timers in-process
    python3 dev.py test [pytest args]    # the whole test suite
    python3 dev.py typecheck             # mypy (django-stubs) over the code, not the tests

Each creates .venv and installs the pinned dependencies from pyproject.toml on first use (and
again whenever pyproject.toml changes)."""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def ensure_env(extras: tuple[str, ...] = ("dev",)) -> None:
    if sys.version_info < (3, 12):
        sys.exit(f"Python 3.12 or newer is needed; this is {sys.version.split()[0]}.")
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    stamp_value = hashlib.sha256(pyproject + ",".join(extras).encode()).hexdigest()
    stamp = VENV / ".installed"
    if stamp.exists() and stamp.read_text() == stamp_value:
        return
    if not PY.exists():
        print("Creating the virtual environment in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    project = tomllib.loads(pyproject.decode())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"].get(extra, [])
    print(
        f"Installing {len(requirements)} pinned packages into .venv (about 30 s the first time, "
        "again only when pyproject.toml changes) ...",
        flush=True,
    )
    subprocess.run(
        [str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
        check=True,
    )
    stamp.write_text(stamp_value)


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([str(PY), "manage.py", *args], cwd=ROOT, env=env, check=True)


def serve(port: int) -> int:
    ensure_env()
    # A visitor sees what production shows (its 404 and error pages, not Django's debug page);
    # plain HTTP on this machine, and webhooks may go to local test receivers.
    env = {
        **os.environ,
        "DEBUG": os.environ.get("DEBUG", "0"),
        "SECURE_HTTPS": os.environ.get("SECURE_HTTPS", "0"),
        "WEBHOOK_ALLOW_PRIVATE_URLS": os.environ.get("WEBHOOK_ALLOW_PRIVATE_URLS", "1"),
    }
    print("Bringing the SQLite database up to date (migrations) ...", flush=True)
    manage("migrate", "--no-input", "-v", "0", env=env)
    print("Collecting static files (CSS, scripts) into staticfiles/ ...", flush=True)
    manage("collectstatic", "--no-input", "-v", "0", env=env)
    print("Adding the demo data ...", flush=True)
    manage("seed_demo", env=env)
    url = f"http://127.0.0.1:{port}/"
    print(f"Starting the server on port {port} ...", flush=True)
    print(f"\nOpen {url}  (admin: {url}admin/)\n", flush=True)
    # runserver plus the timers (Celery beat's schedule) in the same process: a failed payout is
    # retried, a lapsed review released, as production's beat does.
    return subprocess.call(
        [str(PY), "manage.py", "runserver_with_timers", f"127.0.0.1:{port}"], cwd=ROOT, env=env
    )


def test(pytest_args: list[str]) -> int:
    ensure_env()
    return subprocess.call([str(PY), "-m", "pytest", *pytest_args], cwd=ROOT)


def typecheck() -> int:
    """mypy over the packages pyproject.toml's [tool.mypy] lists; .ci/run runs it first."""
    ensure_env()
    # mypy's cache does not notice a change of a setting's type (code reads it through
    # django.conf.settings, which the cache does not link to the settings module): start afresh
    # whenever the settings module changes.
    cache = ROOT / ".mypy_cache"
    settings_hash = hashlib.sha256((ROOT / "escrow_site" / "settings.py").read_bytes()).hexdigest()
    stamp = cache / "settings.sha256"
    if cache.exists() and (not stamp.exists() or stamp.read_text() != settings_hash):
        shutil.rmtree(cache)
    cache.mkdir(exist_ok=True)
    stamp.write_text(settings_hash)
    return subprocess.call([str(PY), "-m", "mypy", "--cache-dir", str(cache)], cwd=ROOT)


def lint() -> int:
    """ruff's checks and its formatting, over everything; .ci/run runs it first."""
    ensure_env()
    ruff = str(PY.parent / "ruff")
    checked = subprocess.call([ruff, "check", "."], cwd=ROOT)
    formatted = subprocess.call([ruff, "format", "--check", "."], cwd=ROOT)
    return checked or formatted


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve_p = sub.add_parser("serve", help="run the site on SQLite with demo data")
    serve_p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    sub.add_parser("test", help="run the test suite (extra arguments go to pytest)")
    sub.add_parser("typecheck", help="type-check the code (not the tests) with mypy")
    sub.add_parser("lint", help="ruff's checks and formatting check over everything")
    sub.add_parser("setup", help="only create .venv and install dependencies")
    args, rest = parser.parse_known_args()
    if args.command == "serve":
        return serve(args.port)
    if args.command == "test":
        return test(rest)
    if args.command == "typecheck":
        return typecheck()
    if args.command == "lint":
        return lint()
    ensure_env()
    return 0


if __name__ == "__main__":
    sys.exit(main())
