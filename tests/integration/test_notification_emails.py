"""Notification emails through the real Celery worker on Redis and a real SMTP server (aiosmtpd)
on 127.0.0.1: each notice is delivered once, a refused address is recorded as failed at once, an
SMTP outage is retried until the server is back (none lost, none twice), and a worker killed
while it sends leaves a lease after which the same message goes once more."""

import asyncio
import os
import random
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from escrows import services
from escrows.tasks import run_timers
from notifications.models import EmailStatus, Notification
from tests.helpers import fund, make_escrow, milestones
from tests.integration.conftest import QUEUE, WORKER_ENV, Worker, _database_url, _redis_url, wait_until

pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REFUSED = "nobody@example.test"
SLOW = "slow@example.test"


def _free_port() -> int:
    """A free port below the kernel's ephemeral range, so that while the test stops the server
    (the outage) no outgoing connection of this machine is handed the same port."""
    low = 20_000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = min(low, int(f.read().split()[0]) - 1_000)
    except (OSError, ValueError, IndexError):
        pass
    for port in random.sample(range(max(low - 8_000, 1_025), low), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for the SMTP server")


SMTP_PORT = _free_port()
MAIL_ENV = {
    "EMAIL_HOST": "127.0.0.1",
    "EMAIL_PORT": str(SMTP_PORT),
    "EMAIL_TIMEOUT": "3",
    "SITE_URL": "https://escrow.example.test",
    "NOTIFICATION_EMAIL_BACKOFF_SECONDS": "0.5",
    "NOTIFICATION_EMAIL_BACKOFF_MAX_SECONDS": "2",
    "NOTIFICATION_EMAIL_MAX_ATTEMPTS": "30",
    "NOTIFICATION_EMAIL_LEASE_SECONDS": "3",
}


@dataclass
class Inbox:
    """What the SMTP server accepted, one parsed message per delivery."""

    messages: list[EmailMessage] = field(default_factory=list)
    slow_seconds: float = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == REFUSED:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        if SLOW in envelope.rcpt_tos and self.slow_seconds:
            await asyncio.sleep(self.slow_seconds)  # the worker waits for the answer here
        return "250 Message accepted for delivery"

    def ids(self) -> Counter[str]:
        with self.lock:
            return Counter(m["Message-ID"] for m in self.messages)


class SMTPServer:
    def __init__(self, inbox: Inbox):
        self.inbox = inbox
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=SMTP_PORT)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Worker]:
    """The worker of tests/integration/conftest.py, sending mail to this module's SMTP port."""
    redis_url = _redis_url()
    with django_db_blocker.unblock():
        database_url = _database_url()
    env = {
        **os.environ,
        **WORKER_ENV,
        **MAIL_ENV,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "CACHE_URL": redis_url,
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "DJANGO_SETTINGS_MODULE": "escrow_site.settings",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    env.pop("EMAIL_BACKEND", None)
    worker = Worker(env, tmp_path_factory.mktemp("celery-mail") / "worker.log")
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
def smtp(broker, settings) -> Iterator[SMTPServer]:
    settings.SITE_URL = MAIL_ENV["SITE_URL"]
    settings.NOTIFICATION_EMAIL_LEASE_SECONDS = 3
    settings.NOTIFICATION_EMAIL_BACKOFF_SECONDS = 0.5
    settings.NOTIFICATION_EMAIL_BACKOFF_MAX_SECONDS = 2
    settings.NOTIFICATION_EMAIL_MAX_ATTEMPTS = 30
    server = SMTPServer(Inbox())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _all_sent(expected: int):  # type: ignore[no-untyped-def]
    rows = list(Notification.objects.values_list("email_status", flat=True))
    return len(rows) == expected and all(s == EmailStatus.SENT for s in rows)


def _a_deal(seller, buyer) -> int:
    """Invitation, payment, delivery and release of a stage: the notices they give."""
    escrow = make_escrow(seller, buyer_email=buyer.email)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller)
    services.milestone_release(milestone=first, by=buyer)
    return 4  # invited (buyer), funded (seller), delivered (buyer), released (seller)


def test_each_notice_is_delivered_once_through_smtp(smtp, broker, seller, buyer):
    expected = _a_deal(seller, buyer)
    wait_until(lambda: _all_sent(expected), timeout=60, what="every notice to be sent")
    ids = smtp.inbox.ids()
    wanted = {
        f"<notification-{pk}@escrow.example.test>" for pk in Notification.objects.values_list("pk", flat=True)
    }
    assert set(ids) == wanted and set(ids.values()) == {1}
    by_subject = {m["Subject"]: m for m in smtp.inbox.messages}
    delivered = next(m for s, m in by_subject.items() if "delivered" in s)
    assert delivered["To"] == buyer.email
    assert delivered["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = delivered.get_body(("html",)).get_content()
    assert "Review the stage" in html and "https://escrow.example.test/escrows/" in html
    assert "notifications.tasks.send_email[" in broker.log(), "sent by the worker, not in this process"


def test_a_refused_address_is_recorded_as_failed_at_once(smtp, seller):
    make_escrow(seller, buyer_email=REFUSED)
    notice = wait_until(
        lambda: Notification.objects.filter(email=REFUSED, email_status=EmailStatus.FAILED).first(),
        timeout=60,
        what="the refused address to be recorded",
    )
    assert notice.attempts == 1
    assert notice.last_error.startswith("The mail server refused the address: 550")
    assert smtp.inbox.messages == []


def test_an_smtp_outage_is_retried_until_the_server_is_back(smtp, seller, buyer):
    smtp.stop()
    expected = _a_deal(seller, buyer)
    wait_until(
        lambda: Notification.objects.filter(attempts__gte=2).count() == expected,
        timeout=60,
        what="every notice to have been tried at least twice",
    )
    assert not Notification.objects.filter(email_status__in=[EmailStatus.SENT, EmailStatus.FAILED]).exists()
    assert "Connection refused" in Notification.objects.first().last_error
    smtp.start()
    wait_until(lambda: _all_sent(expected), timeout=60, what="every notice to be sent after the outage")
    ids = smtp.inbox.ids()
    assert len(ids) == expected and set(ids.values()) == {1}, "none lost, none twice"


def test_a_worker_killed_mid_send_sends_the_same_message_once_more(smtp, seller, broker):
    smtp.inbox.slow_seconds = 30
    make_escrow(seller, buyer_email=SLOW)
    # The server has the message and the worker waits for its answer: kill the worker there.
    wait_until(lambda: smtp.inbox.ids(), timeout=60, what="the message to reach the server")
    notice = Notification.objects.get(email=SLOW)
    assert (notice.email_status, notice.attempts) == (EmailStatus.SENDING, 1)
    broker.kill()
    smtp.inbox.slow_seconds = 0
    broker.start()
    # The sweep (beat's process_due) takes it again once its 3s lease has run out.
    done = wait_until(
        lambda: (
            run_timers(),
            Notification.objects.filter(pk=notice.pk, email_status=EmailStatus.SENT).first(),
        )[1],
        timeout=60,
        interval=1,
        what="the sweep to send it again",
    )
    assert done.attempts == 2
    ids = smtp.inbox.ids()
    assert ids == Counter({f"<notification-{notice.pk}@escrow.example.test>": 2}), (
        "the same message, once more"
    )
