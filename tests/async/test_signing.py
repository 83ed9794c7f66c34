import hashlib
import hmac
import time

from webhooks import signing

SECRET = "whsec_test_secret"
BODY = b'{"id":"evt_1","type":"escrow.funded"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    header = signing.signature_header(SECRET, BODY, timestamp=1_700_000_000)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_verify_accepts_a_fresh_valid_signature():
    header = signing.signature_header(SECRET, BODY)
    assert signing.verify(BODY, header, SECRET)
    assert signing.verify(BODY.decode(), header, SECRET)


def test_verify_refuses_tampered_body_wrong_secret_and_garbage():
    header = signing.signature_header(SECRET, BODY)
    assert not signing.verify(BODY + b" ", header, SECRET)
    assert not signing.verify(BODY, header, "whsec_other")
    for bad in ("", "t=abc,v1=00", "v1=" + "0" * 64, "t=1700000000", header.replace("v1=", "v0=")):
        assert not signing.verify(BODY, bad, SECRET)


def test_verify_refuses_a_replayed_old_signature():
    old = int(time.time()) - 600
    header = signing.signature_header(SECRET, BODY, timestamp=old)
    assert not signing.verify(BODY, header, SECRET)
    assert signing.verify(BODY, header, SECRET, tolerance=900)
    assert signing.verify(BODY, header, SECRET, now=old + 10)


def test_verify_accepts_any_of_several_signatures():
    ts = int(time.time())
    good = signing.compute(SECRET, ts, BODY)
    assert signing.verify(BODY, f"t={ts},v1={'0' * 64},v1={good}", SECRET)


def test_the_documented_sample_verifies_our_signatures():
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    section = doc[doc.index("## Verifying a signature") :]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - our own documentation
    header = signing.signature_header(SECRET, BODY)
    assert namespace["verify"](BODY, header, SECRET)
    assert not namespace["verify"](BODY + b"x", header, SECRET)
    assert not namespace["verify"](BODY, signing.signature_header(SECRET, BODY, timestamp=1), SECRET)
