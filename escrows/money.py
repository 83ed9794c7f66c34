"""Exact money: integers in minor units everywhere, Decimal only at the edges."""

from decimal import ROUND_HALF_UP, Decimal, Inexact, InvalidOperation, Rounded, localcontext

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from core.errors import InvalidRequest

# settings.ESCROW_CURRENCIES, read once: a settings attribute costs a lazy-object lookup, and a
# list of 50 escrows asks for an exponent 300 times. Reset when a test overrides the setting.
_exponents: dict[str, int] | None = None


@receiver(setting_changed)
def _reset_exponents(*, setting: str, **_: object) -> None:
    global _exponents
    if setting == "ESCROW_CURRENCIES":
        _exponents = None


def currency_exponent(currency: str) -> int:
    global _exponents
    if _exponents is None:
        _exponents = dict(settings.ESCROW_CURRENCIES)
    try:
        return _exponents[currency]
    except KeyError:
        raise InvalidRequest(
            f"Unsupported currency: {currency!s:.10}. Supported: "
            + ", ".join(sorted(settings.ESCROW_CURRENCIES)),
            code="invalid_currency",
            field="currency",
        ) from None


def normalize_currency(currency: object) -> str:
    if not isinstance(currency, str) or not currency.strip():
        raise InvalidRequest("currency is required", code="invalid_currency", field="currency")
    code = currency.strip().upper()
    currency_exponent(code)
    return code


def max_amount_minor(currency: str) -> int:
    """The largest amount of anything (a payment, a top-up, a payout), far from BIGINT's limits."""
    return settings.ESCROW_MAX_AMOUNT_MAJOR * 10 ** currency_exponent(currency)


def max_escrow_amount(currency: str) -> int:
    """The most one escrow can hold, in minor units (settings.ESCROW_MAX_AMOUNTS, major units)."""
    major = settings.ESCROW_MAX_AMOUNTS.get(currency, settings.ESCROW_MAX_AMOUNT)
    return major * 10 ** currency_exponent(currency)


def check_escrow_amount(minor: int, currency: str, *, field: str = "amount") -> int:
    """An escrow's total is at most the configured maximum: checked wherever a total is set."""
    if minor > max_escrow_amount(currency):
        raise _escrow_too_large(currency, field)
    return minor


class EscrowTooLarge(InvalidRequest):
    """An escrow's total past the most one escrow can hold (the API sees a plain InvalidRequest)."""


def _escrow_too_large(currency: str, field: str) -> EscrowTooLarge:
    words = f"most one escrow can hold is {format_money(max_escrow_amount(currency), currency)}"
    return EscrowTooLarge(f"{field} is too large: the {words}", field=field, for_person=f"The {words}.")


# Longer than any amount a person types; keeps parsing cheap and exact.
MAX_AMOUNT_CHARS = 40

_SHAPE_FOR_PERSON = "Enter an amount as a number, such as 300.00."


def _places_for_person(exponent: int, currency: str) -> str:
    if exponent == 0:
        return f"{currency} amounts are whole numbers, without decimal places."
    return f"{currency} amounts have at most {exponent} decimal places."


def to_minor(
    value: object,
    currency: str,
    *,
    field: str = "amount",
    allow_zero: bool = False,
    escrow_total: bool = False,
) -> int:
    """Parse a decimal string (or int / Decimal) in major units into minor units, exactly. The
    `field` names the request field in the API's message; the page shows `for_person`. An
    `escrow_total` past the most one escrow can hold is refused with that limit."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        # Floats are refused on purpose: 0.1 + 0.2 is not money.
        raise InvalidRequest(
            f'{field} must be a decimal string such as "300.00"', field=field, for_person=_SHAPE_FOR_PERSON
        )
    text = value if isinstance(value, Decimal) else str(value).strip()
    if not isinstance(text, Decimal) and len(text) > MAX_AMOUNT_CHARS:
        raise InvalidRequest(
            f"{field} must be at most {MAX_AMOUNT_CHARS} characters",
            field=field,
            for_person=f"Enter at most {MAX_AMOUNT_CHARS} characters.",
        )
    try:
        amount = text if isinstance(text, Decimal) else Decimal(text)
    except (InvalidOperation, ValueError):
        raise InvalidRequest(
            f'{field} must be a decimal string such as "300.00"', field=field, for_person=_SHAPE_FOR_PERSON
        ) from None
    if not amount.is_finite():
        raise InvalidRequest(
            f'{field} must be a decimal string such as "300.00"', field=field, for_person=_SHAPE_FOR_PERSON
        )
    exponent = currency_exponent(currency)
    # Exponent notation ("1e999999") must not reach the arithmetic: Decimal would overflow.
    if amount and amount.adjusted() > 30:
        raise _escrow_too_large(currency, field) if escrow_total else _too_large(currency, field)
    if amount and amount.adjusted() < -30:
        raise InvalidRequest(
            f"{field} has more than {exponent} decimal places for {currency}",
            field=field,
            for_person=_places_for_person(exponent, currency),
        )
    # Decimal's default context keeps 28 digits and would round a longer amount before the check
    # below; here any rounding at all refuses the amount instead.
    with localcontext() as exact:
        exact.prec = 100
        exact.traps[Inexact] = exact.traps[Rounded] = True
        try:
            scaled = amount.scaleb(exponent)
            whole = scaled == scaled.to_integral_value()
        except (Inexact, Rounded):
            whole = False
    if not whole:
        raise InvalidRequest(
            f"{field} has more than {exponent} decimal places for {currency}",
            field=field,
            for_person=_places_for_person(exponent, currency),
        )
    minor = int(scaled)
    if escrow_total and minor > 0:
        check_escrow_amount(minor, currency, field=field)
    return check_minor(minor, currency, field=field, allow_zero=allow_zero)


def major_int_to_minor(value: object, currency: str, *, field: str = "amount") -> int:
    """The provider surface speaks integers in major units."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{field} must be a positive integer", field=field)
    if value <= 0:
        raise InvalidRequest(f"{field} must be a positive integer", field=field)
    if value > settings.ESCROW_MAX_AMOUNT_MAJOR:
        raise _too_large(currency, field)
    return value * 10 ** currency_exponent(currency)


def _too_large(currency: str, field: str) -> InvalidRequest:
    limit = format_money(max_amount_minor(currency), currency)
    return InvalidRequest(
        f"{field} is too large", field=field, for_person=f"Enter an amount of at most {limit}."
    )


def check_minor(minor: int, currency: str, *, field: str = "amount", allow_zero: bool = False) -> int:
    if minor < 0 or (minor == 0 and not allow_zero):
        raise InvalidRequest(
            f"{field} must be greater than zero",
            field=field,
            for_person="Enter an amount of zero or more."
            if allow_zero
            else "Enter an amount greater than zero.",
        )
    if minor > max_amount_minor(currency):
        raise _too_large(currency, field)
    return minor


def to_decimal(minor: int, currency: str) -> Decimal:
    exponent = currency_exponent(currency)
    return (Decimal(minor) / (Decimal(10) ** exponent)).quantize(Decimal(1).scaleb(-exponent))


def format_minor(minor: int, currency: str) -> str:
    """300.00 style decimal string, as the payment-intents API shows amounts."""
    return f"{to_decimal(minor, currency):f}"


def format_money(minor: int, currency: str) -> str:
    return f"{to_decimal(minor, currency):,f} {currency}"


def fee_for(amount_minor: int, currency: str) -> tuple[int, str]:
    """The fee for an escrow amount under the current schedule, and the schedule version."""
    schedule = settings.ESCROW_FEE_SCHEDULE
    unit = 10 ** currency_exponent(currency)
    raw = (Decimal(amount_minor) * schedule["basis_points"] / Decimal(10000)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    fee = int(raw)
    fee = max(fee, schedule["min_major"] * unit)
    fee = min(fee, schedule["max_major"] * unit)
    return fee, schedule["version"]
