"""Magic recipients: phone numbers whose messages behave in a known, non-happy way.

All are valid Indonesian mobile numbers (``phonenumbers.is_valid_number`` agrees), so client-side phone
validation lets them through exactly like a customer's number. Any other valid number goes
pending -> sent -> delivered -> read; a number ``phonenumbers`` considers invalid fails like
:data:`FAILS_UNDELIVERABLE`, because WhatsApp cannot deliver to it either.
"""

from __future__ import annotations

from enum import Enum

#: Accepted (201), then the log row fails with WhatsApp's "(#131026) Message undeliverable".
FAILS_UNDELIVERABLE = "6281100000001"
#: Accepted, goes pending -> sent -> delivered and stops there: the customer never reads it.
NEVER_READ = "6281100000002"
#: Accepted, but the broadcast log stays empty (``data: []``) for ``late_log_seconds``, then the usual
#: lifecycle follows.
LATE_LOG = "6281100000003"

#: WhatsApp Cloud API error for messages that cannot reach the recipient (not on WhatsApp, blocked, ...).
UNDELIVERABLE_ERROR_CODE = 131026
UNDELIVERABLE_ERROR_TITLE = "Message undeliverable"
UNDELIVERABLE_ERROR_MESSAGE = f"(#{UNDELIVERABLE_ERROR_CODE}) {UNDELIVERABLE_ERROR_TITLE}"


class Outcome(str, Enum):
    """How a message's log row will evolve."""

    DELIVERED_AND_READ = "read"
    NEVER_READ = "never_read"
    UNDELIVERABLE = "undeliverable"
    WRONG_LANGUAGE = "wrong_language"


#: Documentation table: number -> what happens (shown by ``qontak-sandbox --help`` and the docs).
MAGIC_RECIPIENTS: dict[str, str] = {
    FAILS_UNDELIVERABLE: f"fails with whatsapp_error_message {UNDELIVERABLE_ERROR_MESSAGE!r}",
    NEVER_READ: "stops at delivered, never read",
    LATE_LOG: "log stays empty for late_log_seconds, then the normal lifecycle",
}


def outcome_for(number: str, *, valid: bool = True) -> Outcome:
    """Return the outcome a recipient's message will have (ignoring template language problems)."""
    if number == FAILS_UNDELIVERABLE or not valid:
        return Outcome.UNDELIVERABLE
    if number == NEVER_READ:
        return Outcome.NEVER_READ
    return Outcome.DELIVERED_AND_READ


def is_late_log(number: str) -> bool:
    """Whether the recipient's log row appears late."""
    return number == LATE_LOG
