"""Redaction, property-based: personal data never survives; ordinary numbers always do."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.redaction import EMAIL, PERSONAL_NUMBER, PHONE, redact, valid_personal_number

W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
filler = st.text(
    alphabet=st.characters(whitelist_categories=("L", "Zs"), whitelist_characters=".,!?-"),
    max_size=40,
)


def with_check_digits(nine: str) -> str | None:
    digits = [int(c) for c in nine]
    k1 = 11 - sum(d * w for d, w in zip(digits, W1, strict=True)) % 11
    k1 = 0 if k1 == 11 else k1
    if k1 == 10:
        return None
    digits.append(k1)
    k2 = 11 - sum(d * w for d, w in zip(digits, W2, strict=True)) % 11
    k2 = 0 if k2 == 11 else k2
    if k2 == 10:
        return None
    return nine + str(k1) + str(k2)


@st.composite
def personal_numbers(draw: st.DrawFn) -> str:
    day = draw(st.integers(1, 31))
    month = draw(st.integers(1, 12))
    kind = draw(st.sampled_from(["fnr", "dnr", "synthetic"]))
    if kind == "dnr":
        day += 40  # D-nummer: first digit + 4
    if kind == "synthetic":
        month += 80  # Skatteetaten's synthetic test numbers
    nine = f"{day:02d}{month:02d}{draw(st.integers(0, 99)):02d}{draw(st.integers(0, 999)):03d}"
    number = with_check_digits(nine)
    if number is None:
        number = draw(personal_numbers())
    return number


@st.composite
def phones(draw: st.DrawFn) -> str:
    digits = str(draw(st.sampled_from("2345679"))) + "".join(
        str(draw(st.integers(0, 9))) for _ in range(7)
    )
    grouping = draw(st.sampled_from(["8", "2222", "323", "44"]))
    parts, at = [], 0
    for size in map(int, grouping):
        parts.append(digits[at : at + size])
        at += size
    local = draw(st.sampled_from([" ", ""])).join(parts) if grouping != "8" else digits
    prefix = draw(st.sampled_from(["", "+47 ", "+47", "0047 ", "0047"]))
    return prefix + local


@given(number=personal_numbers(), before=filler, after=filler, spaced=st.booleans())
@settings(max_examples=300)
def test_personal_numbers_are_redacted(number: str, before: str, after: str, spaced: bool) -> None:
    written = f"{number[:6]} {number[6:]}" if spaced else number
    result = redact(f"{before} {written} {after}")
    assert number not in result.replace(" ", "")
    assert PERSONAL_NUMBER in result
    assert valid_personal_number(number)


@given(phone=phones(), before=filler, after=filler)
@settings(max_examples=300)
def test_phone_numbers_are_redacted(phone: str, before: str, after: str) -> None:
    result = redact(f"{before} {phone} {after}")
    digits = phone.replace(" ", "")[-8:]
    assert digits not in result.replace(" ", "")
    assert PHONE in result


@given(
    local=st.from_regex(r"[a-z][a-z0-9._+-]{0,15}", fullmatch=True),
    domain=st.from_regex(r"[a-z]{2,10}\.(no|com|org)", fullmatch=True),
    before=filler,
)
def test_email_addresses_are_redacted(local: str, domain: str, before: str) -> None:
    address = f"{local}@{domain}"
    result = redact(f"{before} {address}.")
    assert address not in result
    assert EMAIL in result


@given(
    text=st.sampled_from(
        [
            "Ring 113 eller 116 123 hvis det haster, barn kan ringe 116 111.",
            "Søknadsfristen er 15. april 2026.",
            "Jeg bor på 7030 Trondheim og tjener 450 000 kr i året.",
            "Studiet koster 12 500 kroner per semester og varer fra 2025 2026.",
            "Fagbrev etter 4 år, lønn rundt 48 000 000 kr totalt (joke).",
            "Vg1, Vg2 og 2 år i lære: 2+2-modellen.",
        ]
    )
)
def test_ordinary_numbers_stay(text: str) -> None:
    assert redact(text) == text


@given(text=st.text(max_size=200))
def test_redaction_is_idempotent_and_never_crashes(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


def test_invalid_check_digits_are_not_personal_numbers() -> None:
    assert valid_personal_number("01010112345") is False
    number = with_check_digits("150190123")
    assert number is not None
    assert redact(f"mitt nummer er {number}") == f"mitt nummer er {PERSONAL_NUMBER}"
