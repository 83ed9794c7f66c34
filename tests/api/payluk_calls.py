"""What the Payluk-compatible tests share: a platform's customers made as the API makes them, and
the surface's envelope checked for an answer or a refusal."""

from accounts.services import customer_create_for_platform


def customer(platform, email, **names):
    return customer_create_for_platform(platform=platform, email=email, **names)


def answer(r, status=200, message=None):
    """The envelope of a success: its data."""
    body = r.json()
    assert r.status_code == status, body
    assert body["status"] == status
    if message is not None:
        assert body["message"] == message
    return body["data"]


def refusal(r, status, message, code=None):
    """The envelope of a refusal: the status twice, the message word for word, no data."""
    body = r.json()
    assert r.status_code == status, body
    assert body["status"] == status and body["message"] == message, body
    assert not body["data"]
    if code is not None:
        assert body["code"] == code
    return body
