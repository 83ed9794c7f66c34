"""A signature is good only within the tolerance of now, on both sides: an old timestamp is a
replay, and one ahead of the receiver's clock by more than the same tolerance is refused too (a
captured request signed ahead of time must not stay good for longer). The shipped verify and the
sample in docs/webhooks.md, which customers copy, agree on every case here."""

import re
import time
from pathlib import Path

import pytest

from webhooks import signing

SECRET = "whsec_test_secret"
BODY = b'{"id":"evt_1","type":"escrow.funded"}'
NOW = 1_700_000_000


def signed_at(ts: int) -> str:
    return signing.signature_header(SECRET, BODY, timestamp=ts)


@pytest.fixture
def documented_verify(monkeypatch):
    """The documented sample (docs/webhooks.md), run with the receiver's clock at NOW."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    section = doc[doc.index("## Verifying a signature") :]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - our own documentation
    monkeypatch.setattr(time, "time", lambda: float(NOW))
    return namespace["verify"]


@pytest.mark.parametrize(
    ("offset", "good"),
    [
        (0, True),
        (-300, True),  # as old as the tolerance allows
        (-301, False),  # one second older: a replay
        (300, True),  # as far ahead as the tolerance allows
        (301, False),  # one second further ahead
        (86_400, False),  # signed a day ahead
    ],
)
def test_the_window_is_the_tolerance_either_side_of_now(offset, good, documented_verify):
    header = signed_at(NOW + offset)
    assert signing.verify(BODY, header, SECRET, now=NOW) is good
    assert documented_verify(BODY, header, SECRET) is good


def test_a_wider_tolerance_widens_both_sides(documented_verify):
    for offset in (-900, 900):
        assert signing.verify(BODY, signed_at(NOW + offset), SECRET, tolerance=900, now=NOW)
        assert documented_verify(BODY, signed_at(NOW + offset), SECRET, 900)
    for offset in (-901, 901):
        assert not signing.verify(BODY, signed_at(NOW + offset), SECRET, tolerance=900, now=NOW)
        assert not documented_verify(BODY, signed_at(NOW + offset), SECRET, 900)


def test_a_fractional_clock_is_judged_exactly():
    assert signing.verify(BODY, signed_at(NOW + 300), SECRET, now=NOW + 0.5)
    assert not signing.verify(BODY, signed_at(NOW + 301), SECRET, now=NOW + 0.5)
    assert not signing.verify(BODY, signed_at(NOW - 300), SECRET, now=NOW + 0.5)


@pytest.mark.parametrize(
    "header",
    [
        f"t=\u00b2,v1={'0' * 64}",  # a digit to str.isdigit, not to int()
        f"t=\u0661\u0662,v1={'0' * 64}",  # Arabic-Indic digits
        "t=,v1=",
        ",,,",
        "garbage",
    ],
)
def test_a_malformed_timestamp_is_refused_not_raised(header, documented_verify):
    assert signing.verify(BODY, header, SECRET, now=NOW) is False
    assert documented_verify(BODY, header, SECRET) is False


def test_a_non_ascii_signature_is_refused_not_raised(documented_verify):
    header = f"t={NOW},v1=\u00e9{'0' * 63}"
    assert signing.verify(BODY, header, SECRET, now=NOW) is False
    assert documented_verify(BODY, header, SECRET) is False


def test_spaces_after_the_commas_are_allowed(documented_verify):
    header = signed_at(NOW).replace(",", ", ")
    assert signing.verify(BODY, header, SECRET, now=NOW)
    assert documented_verify(BODY, header, SECRET)
