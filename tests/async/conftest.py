import pytest


@pytest.fixture(autouse=True)
def _webhook_settings(local_webhooks):
    """Every test here may call the receiver on 127.0.0.1."""
