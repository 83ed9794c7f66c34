"""A real Celery worker subprocess on Redis (TEST_REDIS_URL) and the PostgreSQL test database.

Each session uses its own queue name, so several runs may share one Redis database. The
test process itself is switched from eager tasks to the same broker and queue, so services'
on-commit enqueues travel through Redis to the worker exactly as in production."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
QUEUE = f"itest-{uuid.uuid4().hex[:10]}"

# Fast clocks so retries, backoff and leases fit in seconds (read by the worker's settings).
WORKER_ENV = {
    "ESCROW_SETTLEMENT_BACKOFF_SECONDS": "0.5",
    "ESCROW_SETTLEMENT_MAX_ATTEMPTS": "3",
    "ESCROW_SETTLEMENT_LEASE_SECONDS": "3",
    "ESCROW_MOCK_OFF_RAMP_SLOW_SECONDS": "30",
    "WEBHOOK_BACKOFF_SECONDS": "0.5",
    "WEBHOOK_LEASE_SECONDS": "3",
    "WEBHOOK_TIMEOUT_SECONDS": "3",
    "WEBHOOK_ALLOW_PRIVATE_URLS": "1",
    "CELERY_VISIBILITY_TIMEOUT": "60",
    "DB_POOL_MIN": "1",
    "DB_POOL_MAX": "4",
}


def _redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs a Redis broker: set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15); .ci/run does")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {url} is not reachable: {exc}")
    return url


def _database_url() -> str:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL shared with the worker: set DATABASE_URL to a PostgreSQL database")
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Worker:
    """`celery -A escrow_site worker` in its own process group, so SIGKILL takes all of it."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        offset = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "escrow_site",
                "worker",
                "-l",
                "info",
                "-Q",
                QUEUE,
                "-n",
                f"{QUEUE}-{self.starts}@%h",
                "--pool",
                "prefork",
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],  # fmt: skip
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            with self.log_path.open("rb") as f:
                f.seek(offset)
                if b" ready." in f.read():
                    return
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"celery worker did not become ready:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children) at once."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        except ProcessLookupError:
            pass
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Worker]:
    redis_url = _redis_url()
    with django_db_blocker.unblock():
        database_url = _database_url()
    env = {
        **os.environ,
        **WORKER_ENV,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        # As production: one cache for web processes and workers (the dispatch-pending flag).
        "CACHE_URL": redis_url,
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "DJANGO_SETTINGS_MODULE": "escrow_site.settings",
        "PYTHONUNBUFFERED": "1",
        # Notification emails go nowhere here (test_notification_emails.py sends them through
        # SMTP); printed to the console they would bury the log the tests read.
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    worker = Worker(env, tmp_path_factory.mktemp("celery") / "worker.log")
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        if os.environ.get("CELERY_WORKER_LOG"):
            print(worker.log())
        import redis

        redis.Redis.from_url(redis_url).delete(QUEUE)


@pytest.fixture
def broker(celery_worker, settings) -> Iterator[Worker]:
    """Send this test process's tasks to the worker instead of running them eagerly, with the
    same fast clocks the worker has."""
    from escrow_site.celery import app

    for name, value in WORKER_ENV.items():
        if hasattr(settings, name):
            setattr(settings, name, type(getattr(settings, name))(value))
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager", "task_default_queue")}
    app.conf.update(
        broker_url=celery_worker.env["CELERY_BROKER_URL"], task_always_eager=False, task_default_queue=QUEUE
    )
    _reset_producers(app)
    try:
        yield celery_worker
    finally:
        # The test's database is emptied next (TRUNCATE): a task the test left behind (a
        # notification of the failure it provoked, say) would hold a table the flush must lock,
        # and the two deadlock. So the worker finishes what it has first.
        if celery_worker.proc is not None:
            _wait_until_idle(app, celery_worker)
        app.conf.update(saved)
        _reset_producers(app)
        if celery_worker.proc is None:  # a test killed it and failed before restarting it
            celery_worker.start()


def _wait_until_idle(app, worker: Worker, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    """Nothing queued for this worker and nothing running, reserved or scheduled in it, twice in
    a row (a task that ends may enqueue another). No answer counts as busy."""
    import socket

    import redis

    queue = redis.Redis.from_url(worker.env["CELERY_BROKER_URL"])
    name = f"{QUEUE}-{worker.starts}@{socket.gethostname()}"
    quiet_checks = 0
    deadline = time.time() + timeout
    while time.time() < deadline and quiet_checks < 2:
        inspect = app.control.inspect(destination=[name], timeout=0.5)
        replies = [inspect.active(), inspect.reserved(), inspect.scheduled()]
        busy = queue.llen(QUEUE) or any(reply is None or any(reply.values()) for reply in replies)
        quiet_checks = 0 if busy else quiet_checks + 1
        if busy:
            time.sleep(0.2)


def _reset_producers(app) -> None:  # type: ignore[no-untyped-def]
    # Queues, router and producer pool are cached from the first configuration. (Closing the old
    # pool would break kombu's global per-broker producer registry, which hands it out again.)
    app._pool = None
    app.__dict__.pop("amqp", None)


def wait_until(predicate, timeout: float = 30, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
