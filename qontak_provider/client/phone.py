"""Phone numbers in the form Qontak's ``to_number`` expects, and masking them for logs.

Qontak documents ``to_number`` as "phone number using country code format", and every official example is
digits only, country code first, no ``+`` (``6281234567890``). People type numbers in many other ways
(``0812-3456-7890``, ``+62 812 3456 7890``, ``(0812) 3456 7890``), and spreadsheets silently drop the leading
zero (``81234567890``). :func:`normalize_phone` turns all of them into the documented form, using Google's
``phonenumbers`` metadata so that impossible numbers are refused before any request is made.

A phone number is personal data: error messages and logs show it through :func:`mask_phone` only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from qontak_provider.client.errors import QontakPayloadError

if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

#: Characters people use when writing a phone number; anything else (letters, ``#``, ``,``…) is refused,
#: because ``phonenumbers`` would otherwise read "vanity" letters as digits or cut the number at an extension.
_PLAUSIBLE_RE = re.compile(r"\s*\+?[0-9\s\-.()/]*")
_DIGITS_RE = re.compile(r"[0-9]")
#: Longer input is refused before parsing: no real number with formatting needs more, and it bounds the work.
_MAX_RAW_LENGTH = 40
#: Digits without ``+``, starting with a country code (never 0). E.164 says at most 15 digits, but the
#: numbering plans phonenumbers knows have valid longer ones (some German numbers), so validity decides.
_NORMALIZED_RE = re.compile(r"[1-9][0-9]{5,16}")

_EXPECTED = "a valid phone number with country code (default region {region})"
_ALLOWED_HINT = "Use digits with an optional leading '+'; spaces and - . ( ) / are allowed as separators."


def mask_phone(number: object) -> str:
    """
    Mask a phone number for logs and error messages, keeping enough digits to recognise it.

    Only the digits are kept (separators and ``+`` are dropped). Numbers of 10 digits or more keep their
    first 5 digits (country code and operator prefix) and last 3; 6 to 9 digits keep the first and last 2;
    shorter ones are masked entirely. Never raises.

    :param number: the number, in any form (``str``, ``int`` or anything else).
    :return: e.g. ``"62812*****890"`` for ``6281234567890``; ``"***"`` when there are no digits at all.
    """
    text = ""
    if isinstance(number, str):
        text = number
    # str() of a huge int raises ValueError (int_max_str_digits); no phone number is that long anyway.
    elif isinstance(number, int) and not isinstance(number, bool) and number.bit_length() <= 128:
        text = str(number)
    digits = "".join(_DIGITS_RE.findall(text))
    length = len(digits)
    if length == 0:
        return "***"
    if length >= 10:
        return digits[:5] + "*" * (length - 8) + digits[-3:]
    if length >= 6:
        return digits[:2] + "*" * (length - 4) + digits[-2:]
    return "*" * length


def is_valid_region(code: object) -> bool:
    """
    Whether ``code`` is a region ``phonenumbers`` knows (ISO 3166-1 alpha-2, any case), e.g. ``"ID"``.

    :param code: the region code to check.
    """
    if not isinstance(code, str):
        return False
    import phonenumbers

    return code.strip().upper() in phonenumbers.SUPPORTED_REGIONS


def is_normalized_phone(number: object) -> bool:
    """
    Whether ``number`` is already in Qontak's form: a valid number as digits with country code, no ``+``.

    The check does not depend on a default region, so a number normalised with any region passes.

    :param number: the candidate ``to_number``.
    """
    if not isinstance(number, str) or not _NORMALIZED_RE.fullmatch(number):
        return False
    parsed = _parse_valid("+" + number, None)
    return parsed is not None and _digits_e164(parsed) == number


def normalize_phone(raw: str | int | float, default_region: str = "ID") -> str:
    """
    Normalise a phone number to digits with country code and no ``+``, e.g. ``"6281234567890"``.

    How the input is read (Qontak wants the country-code form; a wrong guess would message a stranger):

    * With a leading ``+``: an international number, whatever ``default_region`` is.
    * Starting with ``0``: a national number of ``default_region`` (``0812…`` in Indonesia). No country code
      starts with 0, so this never shadows the country-code form.
    * Other bare digits: the country-code form Qontak documents (``6281234567890``, ``14155552671``). Only
      if that is not valid, and ``default_region`` writes national numbers without a trunk 0 (US, SG, IT…),
      as a national number of ``default_region`` (``4155552671`` with region US).

    Bare digits are never guessed to be a home number that lost its trunk 0 (as spreadsheets do with
    ``081234567890`` -> ``81234567890``): that reading collides with real numbers abroad (``81234567890`` is
    a valid Japanese number), and the output of this function must read back as itself, so that normalising
    twice (e.g. a built payload normalised again before sending) can never change the recipient. When such
    input is not a valid international number but would be a valid home number, the error says so, so the
    data gets fixed at its source instead of some rows silently going abroad.

    Validity is ``phonenumbers.is_valid_number`` (the number's length and prefix exist in the region's plan).

    :param raw: the number as typed: ``str``, a non-negative ``int``, or a whole ``float`` (what JSON and
        spreadsheets make of a long number).
    :param default_region: ISO 3166-1 alpha-2 region for numbers written without country code.
    :return: the number, e.g. ``"6281234567890"``.
    :raises QontakPayloadError: with ``field="to_number"`` for anything that is not a valid number (the number
        is masked in the message), or ``field="default_region"`` for an unknown region.
    """
    if not is_valid_region(default_region):
        raise QontakPayloadError(
            "default_region",
            "an ISO 3166-1 alpha-2 region code known to phonenumbers, e.g. 'ID'",
            default_region if isinstance(default_region, str) else type(default_region).__name__,
        )
    region = default_region.strip().upper()
    expected = _EXPECTED.format(region=region)
    text = _as_text(raw, expected)

    stripped = text.strip()
    digits = "".join(_DIGITS_RE.findall(stripped))
    if not digits:
        raise QontakPayloadError("to_number", expected, mask_phone(text), hint=_ALLOWED_HINT)

    if stripped.startswith("+"):
        parsed = _parse_valid("+" + digits, None)
    elif digits.startswith("0"):
        parsed = _parse_valid(digits, region)
    else:
        parsed = _parse_valid("+" + digits, None)
        if parsed is None and not _has_trunk_zero(region):
            # Regions without a trunk 0 (US "4155552671", SG "91234567") write national numbers bare.
            parsed = _parse_valid(digits, region)
        elif parsed is None and _parse_valid("0" + digits, region) is not None:
            raise QontakPayloadError(
                "to_number",
                expected,
                mask_phone(digits),
                hint=f"It looks like a {region} number without its leading 0 (a spreadsheet may have dropped "
                "it); write it with the leading 0 or with '+' and the country code.",
            )
    if parsed is not None:
        return _digits_e164(parsed)
    raise QontakPayloadError(
        "to_number",
        expected,
        mask_phone(digits),
        hint="The number has the wrong length or prefix for its country; add the country code with '+'.",
    )


def _as_text(raw: object, expected: str) -> str:
    """Check the raw input's type and characters; return it as text."""
    if isinstance(raw, float) and not isinstance(raw, bool):
        # JSON, spreadsheets and pandas turn 6281234567890 into 6281234567890.0: a whole float is a number.
        if not (raw.is_integer() and 0 <= raw < 1e16):
            raise QontakPayloadError(
                "to_number", expected, "<float>", hint="Give the number as text, e.g. '6281234567890'."
            )
        raw = int(raw)
    # bool is an int subclass, but True is never a phone number.
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise QontakPayloadError("to_number", expected, f"<{type(raw).__name__}>", hint="Give a str or int.")
    if isinstance(raw, int):
        if raw < 0 or raw.bit_length() > 64:
            raise QontakPayloadError(
                "to_number", expected, mask_phone(raw), hint="No phone number is that int."
            )
        return str(raw)
    if len(raw) > _MAX_RAW_LENGTH or not _PLAUSIBLE_RE.fullmatch(raw):
        raise QontakPayloadError("to_number", expected, mask_phone(raw[:_MAX_RAW_LENGTH]), hint=_ALLOWED_HINT)
    return raw


def _has_trunk_zero(region: str) -> bool:
    """Whether national numbers of ``region`` are dialled with a leading 0 (ID, GB, JP…; not US, SG, IT)."""
    import phonenumbers

    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return getattr(metadata, "national_prefix", None) == "0"


def _parse_valid(text: str, region: str | None) -> PhoneNumber | None:
    """Parse ``text``; return the number only when ``phonenumbers`` considers it valid."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_valid_number(parsed) else None


def _digits_e164(number: PhoneNumber) -> str:
    import phonenumbers

    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
