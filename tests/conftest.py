import pytest

from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _plain_static(settings):
    # Pages render {% static %}; the manifest storage needs collectstatic, which tests skip.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


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
