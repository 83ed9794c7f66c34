"""With the broker unreachable, a money request does not wait on it: each task it hands over
after the commit costs one connection attempt (no retries, no result backend), the commit
stands, and once the broker is back the process_due sweep sends what the request could not.

Three kinds of outage, all on 127.0.0.1: a closed port (refused), a broker that accepts and
never answers, and one whose connect never completes (its backlog is full). Connection attempts
are counted at the socket, so the proof is the count; the time limit only stops a hung run."""

import base64
import json
import os
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from escrow_site.celery import app
from escrows import services
from escrows.models import Event, Settlement, SettlementStatus
from escrows.tasks import run_timers
from tests.helpers import assert_ledger_invariants, fund, make_settling_escrow, milestones, refresh
from tests.reliability import figures
from webhooks import services as webhook_services
from webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db

SECTION = "money and security defects"
CASES = "broker unreachable during a money request: cases"
VIOLATIONS = "violations: request retried an unreachable broker"
# Far above one attempt's socket timeout, far below a request retrying or hanging on the broker.
STILL_WAITING_AFTER = 20


class StillWaiting(BaseException):
    """Raised into a request still waiting on the broker (not an Exception, so nothing on the
    way catches it)."""


@contextmanager
def give_up_after(seconds: float) -> Iterator[None]:
    def stop(signum, frame):  # type: ignore[no-untyped-def]
        figures.add(SECTION, CASES)
        figures.add(SECTION, VIOLATIONS)
        raise StillWaiting(f"still waiting on the broker after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Outage:
    """A broker address on 127.0.0.1 that does not work, in one of three ways."""

    def __init__(self, kind: str):
        self.kind = kind
        self.sockets: list[socket.socket] = []
        self.listener = self._socket()
        self.port = self.listener.getsockname()[1]
        if kind == "refused":
            pass  # bound, never listening: a connect is refused at once
        elif kind == "silent":
            self.listener.listen(16)
            threading.Thread(target=self._accept_and_say_nothing, daemon=True).start()
        elif kind == "connect hangs":
            self.listener.listen(0)
            for _ in range(3):  # fill the accept queue; later connects are never answered
                filler = self._socket(bind=False)
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", self.port))
            probe = self._socket(bind=False)
            probe.settimeout(0.5)
            try:
                probe.connect(("127.0.0.1", self.port))
            except TimeoutError:
                pass
            else:
                self.close()
                pytest.skip("this kernel completes connects to a full accept queue")

    def _socket(self, bind: bool = True) -> socket.socket:
        s = socket.socket()
        self.sockets.append(s)
        if bind:
            s.bind(("127.0.0.1", 0))
        return s

    def _accept_and_say_nothing(self) -> None:
        try:
            while True:
                self.sockets.append(self.listener.accept()[0])
        except OSError:  # closed at the end of the test
            pass

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        for s in self.sockets:
            s.close()


class ConnectCounter:
    """Connection attempts per (host, port), counted where every client makes them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.attempts: dict[tuple[str, int], int] = {}
        real_connect = socket.socket.connect

        def connect(sock, address):  # type: ignore[no-untyped-def]
            if isinstance(address, tuple):
                key = (address[0], address[1])
                self.attempts[key] = self.attempts.get(key, 0) + 1
            return real_connect(sock, address)

        monkeypatch.setattr(socket.socket, "connect", connect)

    def to(self, url: str) -> int:
        parts = urlsplit(url)
        return self.attempts.get((parts.hostname or "", parts.port or 0), 0)


class Publishes:
    """Tasks the code handed to the broker (each send_task is one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.names: list[str] = []
        real_send = app.send_task

        def send_task(name, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.names.append(name)
            return real_send(name, *args, **kwargs)

        monkeypatch.setattr(app, "send_task", send_task)


def _reset_producers() -> None:
    # The producer pool, queues and result backend are cached from the first configuration.
    app._pool = None
    app.__dict__.pop("amqp", None)
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


@contextmanager
def broker_at(url: str, *, result_backend: str | None = None, queue: str | None = None) -> Iterator[None]:
    """Tasks go to the broker at `url` (not run in-process), with the broker settings of the
    project as they are: the test sets only the address."""
    keys = ("broker_url", "task_always_eager", "result_backend", "task_default_queue")
    saved = {k: app.conf[k] for k in keys}
    app.conf.update(
        broker_url=url,
        task_always_eager=False,
        result_backend=result_backend,
        task_default_queue=queue or saved["task_default_queue"],
    )
    _reset_producers()
    try:
        yield
    finally:
        app.conf.update(saved)
        _reset_producers()


@pytest.fixture(params=["refused", "silent", "connect hangs"])
def outage(request) -> Iterator[Outage]:  # type: ignore[no-untyped-def]
    down = Outage(request.param)
    yield down
    down.close()


@pytest.fixture
def result_backend_down() -> Iterator[Outage]:
    # A result backend that is down too: a request must not even try it.
    down = Outage("refused")
    yield down
    down.close()


def _count_case(broker_attempts: int, publishes: int, backend_attempts: int) -> None:
    figures.add(SECTION, CASES)
    figures.add(SECTION, VIOLATIONS, int(broker_attempts > publishes or backend_attempts > 0))


def test_a_release_answers_after_one_attempt_per_task(
    seller, buyer, outage, result_backend_down, monkeypatch, django_capture_on_commit_callbacks
):
    escrow = make_settling_escrow(seller)
    fund(escrow, buyer)
    connects, publishes = ConnectCounter(monkeypatch), Publishes(monkeypatch)
    down = broker_at(outage.url, result_backend=result_backend_down.url)
    with down, give_up_after(STILL_WAITING_AFTER), django_capture_on_commit_callbacks(execute=True):
        services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
    broker_attempts, backend_attempts = connects.to(outage.url), connects.to(result_backend_down.url)
    _count_case(broker_attempts, len(publishes.names), backend_attempts)
    assert {"webhooks.tasks.dispatch_events", "escrows.tasks.settlement_process_task"} <= set(publishes.names)
    assert broker_attempts == len(publishes.names), f"{broker_attempts} connects for {publishes.names}"
    assert backend_attempts == 0
    # The release stands; its event and its payout wait for the sweep.
    assert Settlement.objects.get().status == SettlementStatus.SCHEDULED
    assert Event.objects.filter(kind="milestone.released", dispatched_at__isnull=True).exists()
    assert_ledger_invariants()


def test_a_webhook_resend_answers_after_one_attempt(
    seller, buyer, outage, result_backend_down, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    escrow = make_settling_escrow(seller)
    endpoint = webhook_services.webhook_endpoint_create(customer=seller, url="http://127.0.0.1:9/hook")
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=Event.objects.filter(escrow=escrow).first(),
        event_type="escrow.created",
        payload="{}",
        status=DeliveryStatus.FAILED,
    )
    connects, publishes = ConnectCounter(monkeypatch), Publishes(monkeypatch)
    down = broker_at(outage.url, result_backend=result_backend_down.url)
    with down, give_up_after(STILL_WAITING_AFTER), django_capture_on_commit_callbacks(execute=True):
        webhook_services.webhook_delivery_resend(delivery=delivery, by=seller)
    broker_attempts, backend_attempts = connects.to(outage.url), connects.to(result_backend_down.url)
    _count_case(broker_attempts, len(publishes.names), backend_attempts)
    assert publishes.names == ["webhooks.tasks.deliver_webhook"]
    assert broker_attempts == 1
    assert backend_attempts == 0
    assert refresh(delivery).status == DeliveryStatus.PENDING  # the sweep sends it when due


# -- once the broker is back ---------------------------------------------------------------


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


class BrokerThatComesBack:
    """A broker address that refuses connections until `back()`, then forwards them to Redis."""

    def __init__(self, redis_url: str):
        target = urlsplit(redis_url)
        self.target = (target.hostname or "127.0.0.1", target.port or 6379)
        self.db = target.path.lstrip("/") or "0"
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))  # bound, not listening: refused
        self.sockets = [self.listener]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.listener.getsockname()[1]}/{self.db}"

    def back(self) -> None:
        self.listener.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        try:
            while True:
                client = self.listener.accept()[0]
                upstream = socket.create_connection(self.target)
                self.sockets += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()
        except OSError:  # closed at the end of the test
            pass

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        for s in self.sockets:
            s.close()


def _queued(client, queue: str) -> list[tuple[str, list]]:  # type: ignore[no-untyped-def]
    """(task name, args) of each message waiting in the queue."""
    out = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        out.append((message["headers"]["task"], args))
    return out


def test_the_sweep_sends_what_a_release_could_not_once_the_broker_is_back(
    seller, buyer, monkeypatch, settings, django_capture_on_commit_callbacks
):
    import redis

    redis_url = _redis_url()
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    queue = f"broker-unreachable-{uuid.uuid4().hex[:10]}"
    client = redis.Redis.from_url(redis_url)
    escrow = make_settling_escrow(seller)
    fund(escrow, buyer)
    webhook_services.webhook_endpoint_create(customer=seller, url="http://127.0.0.1:9/hook")
    broker = BrokerThatComesBack(redis_url)
    connects, publishes = ConnectCounter(monkeypatch), Publishes(monkeypatch)
    try:
        with broker_at(broker.url, queue=queue), give_up_after(STILL_WAITING_AFTER):
            with django_capture_on_commit_callbacks(execute=True):
                released = services.milestone_release(milestone=milestones(escrow)[0], by=buyer)
            attempts_while_down, publishes_while_down = connects.to(broker.url), len(publishes.names)
            settlement = Settlement.objects.get(milestone=released)
            event = Event.objects.get(kind="milestone.released", milestone=released)
            assert refresh(event).dispatched_at is None
            assert _queued(client, queue) == []

            broker.back()
            # Two minutes later the sweep runs: the outbox event and the overdue payout.
            later = timezone.now() + timedelta(minutes=2)
            monkeypatch.setattr(timezone, "now", lambda: later)
            with django_capture_on_commit_callbacks(execute=True):
                counts = run_timers()
            queued = _queued(client, queue)
    finally:
        broker.close()
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    _count_case(attempts_while_down, publishes_while_down, 0)
    assert attempts_while_down == publishes_while_down >= 2
    assert counts["settlements_retried"] == 1 and counts["events_redispatched"] >= 1
    assert refresh(event).dispatched_at is not None
    delivery = WebhookDelivery.objects.get(event=event)
    assert ("escrows.tasks.settlement_process_task", [settlement.pk]) in queued
    assert ("webhooks.tasks.deliver_webhook", [delivery.pk, 1]) in queued
    assert refresh(settlement).status == SettlementStatus.SCHEDULED  # paid by the worker that takes it
