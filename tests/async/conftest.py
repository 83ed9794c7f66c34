import pytest


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    # The receiver runs on 127.0.0.1, which production refuses.
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
