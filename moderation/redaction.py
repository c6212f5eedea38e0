"""Redaction of Norwegian personal data in text that is stored, logged, exported or sent to the
knowledge index: fødselsnummer and D-nummer (11 digits with valid mod-11 check digits, synthetic
test numbers included), phone numbers (8 digits, with or without +47 / 0047 and spaces) and
e-mail addresses. Ordinary numbers (113, 116 123, years, postcodes, prices) stay."""

from __future__ import annotations

import re

PERSONAL_NUMBER = "[fødselsnummer]"
PHONE = "[telefon]"
EMAIL = "[e-post]"

_W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

_ELEVEN = re.compile(r"(?<![\d+])(\d{6})[ .-]?(\d{5})(?!\d)")
_SEP = r"[ .-]"
_PHONE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)47[ .-]?)?"
    r"([2-9]\d{7}"  # 48123456
    rf"|[2-9]\d{_SEP}\d\d{_SEP}\d\d{_SEP}\d\d"  # 48 12 34 56
    rf"|[2-9]\d\d{_SEP}\d\d{_SEP}\d\d\d"  # 481 23 456
    rf"|[2-9]\d{{3}}{_SEP}\d{{4}})"  # 4812 3456
    r"(?![\d])(?!\s?(?:kr|nok|kroner|,-|%))",
    re.IGNORECASE,
)
_YEARS = re.compile(r"^(?:19|20)\d\d[ .-](?:19|20)\d\d$")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


def _check_digit(digits: list[int], weights: tuple[int, ...]) -> int | None:
    rest = 11 - sum(d * w for d, w in zip(digits, weights, strict=False)) % 11
    if rest == 11:
        return 0
    if rest == 10:
        return None
    return rest


def valid_personal_number(number: str) -> bool:
    """True for 11 digits whose two mod-11 check digits are right (fødselsnummer, D-nummer,
    H-nummer and synthetic test numbers alike: the date part is not checked)."""
    if len(number) != 11 or not number.isdigit():
        return False
    digits = [int(c) for c in number]
    k1 = _check_digit(digits[:9], _W1)
    if k1 is None or k1 != digits[9]:
        return False
    k2 = _check_digit(digits[:10], _W2)
    return k2 is not None and k2 == digits[10]


def _personal(match: re.Match[str]) -> str:
    number = match.group(1) + match.group(2)
    return PERSONAL_NUMBER if valid_personal_number(number) else match.group(0)


def redact(text: str) -> str:
    """``text`` with personal numbers, phone numbers and e-mail addresses replaced."""
    text = _EMAIL.sub(EMAIL, text)
    text = _ELEVEN.sub(_personal, text)
    return _PHONE.sub(_phone, text)


def _phone(match: re.Match[str]) -> str:
    if _YEARS.match(match.group(1)) and match.group(0) == match.group(1):
        return match.group(0)  # "2025 2026" is two years, not a phone number
    return PHONE
