"""Unit tests of qontak_provider.client.phone: normalising and masking recipient numbers."""

from __future__ import annotations

import pytest

from qontak_provider.client.errors import QontakPayloadError
from qontak_provider.client.phone import (
    is_normalized_phone,
    is_valid_region,
    mask_phone,
    normalize_phone,
)

ID_MOBILE = "6281234567890"


@pytest.mark.parametrize(
    "raw",
    [
        "0812-3456-7890",
        "+62 812 3456 7890",
        "6281234567890",
        "62 812-3456-7890",
        "(0812) 3456 7890",
        "0812.3456.7890",
        "  +62-812-3456-7890  ",
        6281234567890,
        "+62 (812) 3456/7890",
    ],
)
def test_indonesian_mobile_in_any_format(raw):
    assert normalize_phone(raw) == ID_MOBILE


def test_lowercase_region_and_surrounding_space_accepted():
    assert normalize_phone("0812-3456-7890", " id ") == ID_MOBILE


def test_plus_number_ignores_default_region():
    assert normalize_phone("+1 415 555 2671", "ID") == "14155552671"
    assert normalize_phone("+62 812 3456 7890", "US") == ID_MOBILE


def test_bare_digits_are_the_country_code_form():
    assert normalize_phone("14155552671") == "14155552671"
    # 81234567890 could be an Indonesian 0812… that lost its 0, but it is a valid Japanese number as written:
    # it is read as written, so that normalising the result again never changes the recipient.
    assert normalize_phone("81234567890") == "81234567890"
    assert normalize_phone(81234567890) == "81234567890"
    # Found by hypothesis: a Korean number that also reads as an Indonesian 0822… must stay Korean.
    assert normalize_phone("+8221000000") == "8221000000"
    assert normalize_phone("8221000000") == "8221000000"


@pytest.mark.parametrize("raw", ["8123456789", 8123456789, "812-345-678"])
def test_home_number_without_trunk_zero_is_refused_with_a_hint(raw):
    with pytest.raises(QontakPayloadError, match="without its leading 0") as info:
        normalize_phone(raw)
    assert info.value.field == "to_number"
    assert normalize_phone("0" + str(raw)).startswith("628")


def test_region_without_trunk_zero_reads_bare_national_digits():
    assert normalize_phone("(415) 555-2671", "US") == "14155552671"
    assert normalize_phone("4155552671", "US") == "14155552671"
    assert normalize_phone("9123 4567", "SG") == "6591234567"
    assert normalize_phone("14155552671", "US") == "14155552671"


def test_leading_zero_is_national_in_default_region():
    assert normalize_phone("0271 234567") == "62271234567"  # Solo fixed line


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "+",
        "---",
        "12",
        "0812",
        "+6281234567",  # too short for an Indonesian mobile
        "99999999999999999",
        "+999 1234 5678",  # no such country code
        "0000000000",
        "0",
        0,
        12,
    ],
)
def test_invalid_numbers_raise_payload_error(raw):
    with pytest.raises(QontakPayloadError) as info:
        normalize_phone(raw)
    assert info.value.field == "to_number"
    assert "default region ID" in info.value.expected


@pytest.mark.parametrize(
    "raw",
    [
        "0812-3456-789O",  # letter O
        "1-800-FLOWERS",
        "0812 3456 7890 ext 12",
        "0812#34567890",
        "62+81234567890",  # + not at the start
        "٠٨١٢٣٤٥٦٧٨٩٠",  # Arabic-Indic digits
        "0" * 41,
        "+62\x00812",
    ],
)
def test_implausible_characters_raise_payload_error(raw):
    with pytest.raises(QontakPayloadError) as info:
        normalize_phone(raw)
    assert info.value.field == "to_number"
    assert "allowed" in str(info.value)


@pytest.mark.parametrize(
    "raw", [None, True, False, 6.28e12, b"081234567890", ["0812"], {"n": 1}, -6281234567890]
)
def test_wrong_types_raise_payload_error(raw):
    with pytest.raises(QontakPayloadError) as info:
        normalize_phone(raw)  # type: ignore[arg-type]
    assert info.value.field == "to_number"


def test_huge_int_raises_payload_error_not_value_error():
    with pytest.raises(QontakPayloadError):
        normalize_phone(10**5000)


@pytest.mark.parametrize("region", ["XX", "", "IDN", None, 62])
def test_unknown_region(region):
    with pytest.raises(QontakPayloadError) as info:
        normalize_phone("081234567890", region)  # type: ignore[arg-type]
    assert info.value.field == "default_region"


def test_error_message_masks_the_number():
    with pytest.raises(QontakPayloadError) as info:
        normalize_phone("+62 812 3456 7")  # too short to be valid, but still personal data
    message = str(info.value)
    assert "6281234567" not in message
    assert "62812**567" in message


def test_error_for_implausible_input_never_shows_the_full_number():
    with pytest.raises(QontakPayloadError) as info:
        normalize_phone("0812-3456-789O")
    assert "081234" not in str(info.value)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("6281234567890", "62812*****890"),
        (6281234567890, "62812*****890"),
        ("+62 812-3456-7890", "62812*****890"),
        ("1234567890", "12345**890"),
        ("123456789", "12*****89"),
        ("123456", "12**56"),
        ("12345", "*****"),
        ("", "***"),
        ("abc", "***"),
        (None, "***"),
        (True, "***"),
        (["6281234567890"], "***"),
    ],
)
def test_mask_phone(number, masked):
    assert mask_phone(number) == masked


def test_mask_phone_huge_int_never_raises():
    assert mask_phone(10**5000) == "***"


def test_mask_keeps_length_but_hides_the_middle():
    masked = mask_phone("6281234567890")
    assert len(masked) == 13
    assert "3456" not in masked


@pytest.mark.parametrize(
    ("code", "valid"), [("ID", True), ("id", True), (" us ", True), ("XX", False), (None, False)]
)
def test_is_valid_region(code, valid):
    assert is_valid_region(code) is valid


@pytest.mark.parametrize(
    ("number", "normalized"),
    [
        ("6281234567890", True),
        ("14155552671", True),
        ("+6281234567890", False),
        ("081234567890", False),
        ("62 81234567890", False),
        ("6281234567", False),  # right shape, not a valid number
        ("0", False),
        (6281234567890, False),
        (None, False),
    ],
)
def test_is_normalized_phone(number, normalized):
    assert is_normalized_phone(number) is normalized
