"""The API's renderer (orjson) writes exactly the bytes DRF's JSONRenderer writes."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from escrows.api.renderers import FastJSONRenderer

SAMPLES = [
    {"status": 200, "message": "ok", "data": None},
    {"amount": 300, "fee": Decimal("4.5"), "big": Decimal("123456789.01"), "neg": -7, "zero": Decimal("0")},
    {"text": 'naïve — 東京 \u2028 line \u2029 para "quoted" \\ back </script>', "empty": ""},
    {"when": datetime(2026, 12, 1, 9, 30, 5, 123456, tzinfo=UTC), "day": date(2026, 12, 1)},
    {"naive": datetime(2026, 12, 1, 9, 30), "span": timedelta(days=3, seconds=7)},
    {"lazy": gettext_lazy("Escrow not found"), "id": UUID("12345678-1234-5678-1234-567812345678")},
    {"nested": [{"a": [1, 2, {"b": None}]}, [], {}], "bools": [True, False], "float": 0.1},
    {"huge": 2**70},  # beyond 64 bits: orjson refuses, DRF's renderer writes it
    [1, "two", None],
]


@pytest.mark.parametrize("data", SAMPLES)
def test_bytes_equal_drfs(data):
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_indented_output_is_drfs():
    data = {"a": [1, 2]}
    context = {"indent": 2}
    assert FastJSONRenderer().render(data, "application/json; indent=2", context) == JSONRenderer().render(
        data, "application/json; indent=2", context
    )


def test_nothing_renders_as_no_body():
    assert FastJSONRenderer().render(None) == b""


@pytest.mark.parametrize("data", [s for s in SAMPLES if "huge" not in s])
def test_orjson_encodes_these_itself(data):
    """Not DRF's fallback: orjson (with DRF's encoder for what it passes through) wrote them."""
    import orjson
    from rest_framework.utils.encoders import JSONEncoder

    from escrows.api.renderers import _OPTIONS

    orjson.dumps(data, default=JSONEncoder().default, option=_OPTIONS)
