"""A request's public reference: random Crockford base32 with a check symbol."""

from __future__ import annotations

import secrets

#: Crockford's base32: no I, L, O or U, so nothing reads as another symbol.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _check_symbol(symbols: str) -> str:
    """Luhn mod 32 over ``symbols``: catches any single wrong symbol and most swaps."""
    factor, total = 2, 0
    for symbol in reversed(symbols):
        addend = factor * REFERENCE_ALPHABET.index(symbol)
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return REFERENCE_ALPHABET[(32 - total % 32) % 32]


def new_reference() -> str:
    """A request's public reference, e.g. ``7KQM-2XPD-W4R9``: eleven random symbols
    (55 bits) and a check symbol. Random, so it says nothing about other requests;
    the database's unique constraint refuses a repeat."""
    symbols = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(11))
    text = symbols + _check_symbol(symbols)
    return f"{text[:4]}-{text[4:8]}-{text[8:]}"


def read_reference(text: str) -> str | None:
    """A reference as typed (any case, with or without dashes, O for 0, I or L for 1)
    in its stored form, or None when it is not a well-formed one."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    if len(cleaned) != 12 or any(c not in REFERENCE_ALPHABET for c in cleaned):
        return None
    if _check_symbol(cleaned[:11]) != cleaned[11]:
        return None
    return f"{cleaned[:4]}-{cleaned[4:8]}-{cleaned[8:]}"
