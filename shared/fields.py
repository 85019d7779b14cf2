"""The field types every API body and contract takes: what the edge accepts, and nothing else.

One type per kind of value, used wherever a value of that kind comes in, each stating its rule
in the OpenAPI schema (pattern, enum, bounds) and failing with a message that says what is
expected:

- `Line`, `Paragraph` and `Email`: text without control characters (C0, DEL, C1) or lone
  surrogates; a paragraph keeps tabs and line breaks. A NUL would otherwise reach PostgreSQL
  and fail there. `explain` words their errors.
- `decimal_string(...)`: amounts and measures, sent as decimal strings in canonical form
  (`"24.90"`): no JSON number (a float has already lost the cents), no exponent, sign, spaces
  or leading zeros, and at most as many digits as the columns that store them hold.
- `Quantity`: a JSON integer, never `"2"` nor `true`.
- `Timestamp`: an RFC 3339 date-time with its offset, never a number of seconds.
- `CountryCode`: ISO 3166-1 alpha-2, from the dated list in `shared/data`.
- `HsCode`: ASCII digits only (`\\d` also matches full-width and other scripts' digits).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# ---- text ------------------------------------------------------------------------------

# Patterns, not Python validators: pydantic checks them in Rust (a few hundred ns per order).
# Rust, Python and ECMA-262 (JSON Schema) all read these \\u escapes. A lone surrogate is
# refused by pydantic itself (`string_unicode`): it is no text that UTF-8 can carry.
LINE_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
PARAGRAPH_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"

Line = Annotated[str, Field(pattern=LINE_PATTERN)]
"""One line of text: a name, a reference, an address line, a token."""

Paragraph = Annotated[str, Field(pattern=PARAGRAPH_PATTERN)]
"""Free text that may hold tabs and line breaks: a description, a reason."""

_NOT_CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"
EMAIL_PATTERN = f"^[^@\\s{_NOT_CONTROL}]+@[^@\\s{_NOT_CONTROL}]+\\.[^@\\s{_NOT_CONTROL}]+$"
Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254)]

_CONTROL_CHARACTERS = "must not contain control characters"
_MESSAGES = {
    ("string_pattern_mismatch", LINE_PATTERN): _CONTROL_CHARACTERS,
    ("string_pattern_mismatch", PARAGRAPH_PATTERN): _CONTROL_CHARACTERS + " (but tab and newline)",
    ("string_pattern_mismatch", EMAIL_PATTERN): "must be an e-mail address, with no spaces or "
    + "control characters",
    ("string_unicode", None): "must be Unicode text (a lone surrogate is none)",
}


def explain(error: dict[str, Any]) -> str:
    """The message of a validation error, said in this module's words where it is its rule."""
    pattern = (error.get("ctx") or {}).get("pattern")
    return _MESSAGES.get((error["type"], pattern), error["msg"])


# ---- times -----------------------------------------------------------------------------

RFC3339_PATTERN = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})",
    re.IGNORECASE,
)


def _rfc3339_text(value: Any) -> Any:
    """Pydantic reads a number as seconds since the epoch (`0`, `"0.5"`): not a date-time."""
    if isinstance(value, datetime) or (isinstance(value, str) and RFC3339_PATTERN.fullmatch(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time with its offset, e.g. 2026-12-02T08:00:00Z")


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]
"""A time with its offset, as RFC 3339 text (the OpenAPI's `date-time`) and nothing else."""


# ---- decimal strings -------------------------------------------------------------------


class _DecimalString:
    """A decimal in canonical form: `0` or digits without a leading zero, then optionally a
    point and 1 to `fraction_digits` digits. Python callers may pass a `Decimal` (held to the
    same digit limits); JSON callers only a string. Checked in pydantic's core, no Python."""

    def __init__(self, integer_digits: int, fraction_digits: int, *, positive: bool) -> None:
        integer = f"(0|[1-9][0-9]{{0,{integer_digits - 1}}})"
        fraction = f"(\\.[0-9]{{1,{fraction_digits}}})?"
        self._pattern = f"^{integer}{fraction}$"
        if positive:
            # Zero written in any form is refused by the pattern too: a nonzero integer part,
            # or 0. then a fraction with a nonzero digit (no lookahead: not every engine has it).
            nonzero_fraction = "|".join(
                f"0{{{zeros}}}[1-9][0-9]{{0,{fraction_digits - zeros - 1}}}"
                for zeros in range(fraction_digits)
            )
            nonzero_integer = f"[1-9][0-9]{{0,{integer_digits - 1}}}"
            self._pattern = f"^({nonzero_integer}{fraction}|0\\.({nonzero_fraction}))$"
        self._largest = f"{'9' * integer_digits}.{'9' * fraction_digits}"
        self._digits = (integer_digits, fraction_digits)
        self._positive = positive
        self._rule = (
            f'a {"positive " if positive else ""}decimal string such as "24.90": at most '
            f"{integer_digits} digits before the point and {fraction_digits} after it, "
            "no sign, exponent or spaces"
        )

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        integer_digits, fraction_digits = self._digits
        decimal = core_schema.decimal_schema(
            max_digits=integer_digits + fraction_digits,
            decimal_places=fraction_digits,
            allow_inf_nan=False,
            gt=Decimal(0) if self._positive else None,
            ge=None if self._positive else Decimal(0),
        )
        # The pattern already holds a string to the digit limits, sign and form: parsing it
        # needs no constraint (digit counting costs pydantic microseconds per field).
        parse = core_schema.decimal_schema(gt=Decimal(0) if self._positive else None)
        from_text = core_schema.chain_schema(
            [core_schema.str_schema(pattern=self._pattern, strict=True), parse]
        )
        python = core_schema.union_schema(
            [
                core_schema.chain_schema([core_schema.is_instance_schema(Decimal), decimal]),
                from_text,
            ]
        )
        return core_schema.custom_error_schema(
            core_schema.json_or_python_schema(json_schema=from_text, python_schema=python),
            custom_error_type="decimal_string",
            custom_error_message=f"must be {self._rule}",
            serialization=core_schema.to_string_ser_schema(when_used="json"),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": self._pattern,
            "maxLength": len(self._largest),
            "description": self._rule[0].upper() + self._rule[1:],
            "examples": ["24.90"],
        }


def decimal_string(integer_digits: int, fraction_digits: int, *, positive: bool = False) -> Any:
    """The type of a decimal string with these digit limits (see `_DecimalString`)."""
    return Annotated[Decimal, _DecimalString(integer_digits, fraction_digits, positive=positive)]


MONEY_INTEGER_DIGITS = 9
MONEY_FRACTION_DIGITS = 4
MAX_MONEY = Decimal("999999999.9999")
"""Every amount a partner or operator sends, and every order total, is at most this: with the
duties customs adds on top it still fits the 14 significant digits of `Numeric(18, 4)`."""

MoneyString = decimal_string(MONEY_INTEGER_DIGITS, MONEY_FRACTION_DIGITS)
PositiveMoneyString = decimal_string(MONEY_INTEGER_DIGITS, MONEY_FRACTION_DIGITS, positive=True)

# ---- counts and codes ------------------------------------------------------------------

MAX_QUANTITY = 10_000
Quantity = Annotated[int, Strict(), Field(ge=1, le=MAX_QUANTITY)]
"""A JSON integer: strict, so `"2"`, `2.0` and `true` are refused rather than coerced."""

HsCode = Annotated[
    str,
    Field(pattern=r"^[0-9]{6,10}$", description="HS (6) / CN (8) / TARIC (10) code, ASCII digits"),
]

COUNTRY_LIST = Path(__file__).parent / "data" / "iso3166-1-alpha2.txt"


def _read_countries(path: Path) -> frozenset[str]:
    lines = (line.strip() for line in path.read_text(encoding="ascii").splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


COUNTRIES = _read_countries(COUNTRY_LIST)


class _Country:
    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.custom_error_schema(
            core_schema.literal_schema(sorted(COUNTRIES)),
            custom_error_type="country_code",
            custom_error_message="must be an ISO 3166-1 alpha-2 country code, such as BE",
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # What the edge accepts (validation: the OpenAPI's request bodies) is the list itself;
        # what travels (serialization: the event contracts) a pattern, so that the list grows
        # (a new state) without the contract changing its type for readers.
        described = {
            "type": "string",
            "description": "ISO 3166-1 alpha-2 country code, one of those officially assigned "
            f"({len(COUNTRIES)}, listed in shared/data/iso3166-1-alpha2.txt)",
        }
        if handler.mode == "validation":
            return {**described, "enum": sorted(COUNTRIES)}
        return {**described, "pattern": "^[A-Z]{2}$"}


CountryCode = Annotated[str, _Country()]
