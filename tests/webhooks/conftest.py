import pytest


@pytest.fixture(autouse=True)
def _webhook_settings(local_webhooks):
    """Every test here may register (and call) an endpoint on 127.0.0.1."""
