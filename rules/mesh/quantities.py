"""Kubernetes resource quantities (`500m`, `128Mi`, `1.5Gi`, `2e3`) as plain numbers.

Rules compare limits with requests; comparing the strings would call `512Mi` smaller than `64Mi`.
Anything that is not a valid quantity parses to None, so a typo never turns into a comparison.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "K": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(
    r"^\s*(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkKMGTPE])|[eE](?P<exponent>[+-]?\d{1,3}))?\s*$"
)


def parse_quantity(value: Any) -> Decimal | None:
    """The quantity's value in base units (cores, bytes), or None when it is not a quantity."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = repr(value)
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if match is None:
        return None
    try:
        number = Decimal(match["number"])
    except InvalidOperation:
        return None
    if match["exponent"] is not None:
        return number.scaleb(int(match["exponent"]))
    return number * _SUFFIXES[match["suffix"] or ""]
