import os
import shutil

import pytest

from escrows import services
from tests.factories import UserFactory
from tests.helpers import fund, make_escrow, milestones, refresh
from tests.reliability import figures
from tests.webhook_receiver import Receiver


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_account_request_limits(settings):
    # django-allauth counts sign-ups, logins and codes per address in the cache, which outlives
    # a test: the suite's many logins from 127.0.0.1 would trip them. A test of one turns it on.
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.fixture(autouse=True)
def _plain_static(settings):
    # Pages render {% static %}; the manifest storage needs collectstatic, which tests skip.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _celery_join_flag_per_test():
    # In eager mode Celery marks "inside a task" with one process-wide flag that each task run
    # sets and then puts back. Two threads running tasks at once (the race tests) put it back
    # out of order and leave it set, and a later test's `result.get()` is then refused with
    # "Never call result.get() within a task!". No test runs inside a task, so each starts clear.
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield


# A mutation run (tools/mutation.py) starts pytest afresh for each mutant, and building the test
# database from the models took most of a mutant's time. It names a template file here: the first
# session builds it the usual way, and every session after gets its own copy of it.
_TEMPLATE_DATABASE = os.environ.get("MUTATION_TEMPLATE_DB")

if _TEMPLATE_DATABASE:

    @pytest.fixture(scope="session")
    def django_db_setup(request, django_test_environment, django_db_blocker, django_db_use_migrations):
        from django.conf import settings
        from django.db import connection
        from django.test.utils import setup_databases
        from pytest_django.fixtures import _disable_migrations

        own = f"{_TEMPLATE_DATABASE}.{os.getpid()}"
        with django_db_blocker.unblock():
            if not os.path.exists(_TEMPLATE_DATABASE):
                if not django_db_use_migrations:
                    _disable_migrations()
                building = f"{_TEMPLATE_DATABASE}.building.{os.getpid()}"
                connection.settings_dict["TEST"]["NAME"] = building
                setup_databases(verbosity=0, interactive=False, aliases={"default"})
                connection.close()
                os.replace(building, _TEMPLATE_DATABASE)
            shutil.copyfile(_TEMPLATE_DATABASE, own)
            connection.close()
            settings.DATABASES["default"]["NAME"] = connection.settings_dict["NAME"] = own
        yield
        with django_db_blocker.unblock():
            connection.close()
        os.unlink(own)


@pytest.fixture
def seller(db):
    return UserFactory(email="seller@example.test")


@pytest.fixture
def buyer(db):
    return UserFactory(email="buyer@example.test")


@pytest.fixture
def stranger(db):
    return UserFactory(email="stranger@example.test")


@pytest.fixture
def admin_user(db):
    return UserFactory(email="admin@example.test", is_staff=True, is_superuser=True)


@pytest.fixture
def funded(seller, buyer):
    """Three stages (300.00, 500.00, 200.00 USD), open to any buyer, paid by `buyer`. Modules
    whose escrow is reserved for the buyer from the start define their own."""
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    return escrow


@pytest.fixture
def delivered(seller, buyer):
    """Stage 0 of a funded escrow, delivered: its review is running."""
    escrow = make_escrow(seller)
    fund(escrow, buyer)
    first = milestones(escrow)[0]
    services.milestone_complete(milestone=first, by=seller, proof="done")
    return refresh(first)


@pytest.fixture
def _media(settings, tmp_path):
    """Uploads (dispute evidence) go to a fresh folder; modules that upload use this fixture."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def local_webhooks(settings):
    # The receiver runs on 127.0.0.1, which production refuses.
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


# -- the reliability figures ----------------------------------------------------------------------
# The reliability suite (tests/reliability, the races in tests/races and the no-500 fuzzing in
# tests/api/test_no_500.py) adds what it measured to `figures`; these hooks report it at the end
# of the run: a table in the terminal summary (so CI output shows it) and
# test-artifacts/reliability.json. A run that measured nothing reports nothing.

RELIABILITY_PATHS = ("tests/reliability/", "tests/races/")


def pytest_sessionfinish(session: pytest.Session) -> None:
    if figures.FIGURES:
        figures.write()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if not figures.FIGURES:
        return
    terminalreporter.section("reliability figures")
    terminalreporter.write_line(f"RELIABILITY_SCALE={figures.scale()}  written to {figures.ARTIFACT}")
    for line in figures.table(figures.as_dict()):
        terminalreporter.write_line(line)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Skipped reliability tests (the races without PostgreSQL, say) show in the table, so a
    table without their rows does not pass for a clean run of them."""
    if not report.skipped or not report.nodeid.startswith(RELIABILITY_PATHS):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    figures.add("skipped here (not run)", reason.removeprefix("Skipped: ")[:80])


@pytest.fixture
def stripe_fake(settings):
    """Stripe on 127.0.0.1 (tests/stripe_fake.py), and the settings that point the product at it."""
    from tests.stripe_fake import StripeFake

    fake = StripeFake(api_key="sk_test_local", webhook_secret="whsec_local").start()
    settings.STRIPE_SECRET_KEY = fake.api_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_API_BASE = fake.url
    yield fake
    fake.stop()
