"""The typed errors of the Qontak client, and the text of their messages.

One small hierarchy: callers catch :class:`QontakError` for everything, or a subclass for one case. Every
message says what happened and what to do about it; the HTTP status, Qontak's own messages and the server's
request id are kept on the exception for programs. No message, attribute or repr ever contains the client
secret or a signature, and phone numbers in server messages are masked.

:func:`error_for_response` and :func:`error_for_failure` build the error of a final failed attempt; which
failures are retried is decided in :mod:`qontak_provider.client.policy`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qontak_provider.client.policy import HttpOutcome, RequestKind, TransportOutcome


class QontakError(Exception):
    """
    Base class of every error raised by the Qontak client.

    :param message: what happened and what to do, for people.
    :param status_code: HTTP status of the response, when there was one.
    :param messages: Qontak's own ``error.messages`` from the response body.
    :param method: HTTP method of the request.
    :param path: path (with query) of the request, e.g. ``/qontak/chat/v1/integrations``.
    :param request_id: the server's ``X-Request-Id`` of the failed answer, to quote to Mekari support.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        messages: Sequence[str] = (),
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.messages = list(messages)
        self.method = method
        self.path = path
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"


class QontakAuthenticationError(QontakError):
    """The gateway refused the credentials (401) or their scope (403). Never retried."""


class QontakNotFoundError(QontakError):
    """The looked-up resource does not exist (404, or 422 "Couldn't find ..." for an id)."""


class QontakEndpointUnavailableError(QontakError):
    """
    An endpoint itself is not there for these credentials (404 or 405 on a path without an id).

    Seen when a credential lacks the endpoint's scope or the gateway does not expose the endpoint; an id is
    not to blame, so this is not a :class:`QontakNotFoundError`.
    """


class QontakValidationError(QontakError):
    """Qontak refused the request as invalid (400/422); :attr:`messages` holds its reasons."""


class QontakRateLimitError(QontakError):
    """
    The rate limit was hit (429) and retries, if any, are exhausted.

    :param reset_after: seconds until the limit resets, from ``rate_limit_reset`` or ``Retry-After``.
    """

    def __init__(self, message: str, *, reset_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.reset_after = reset_after


class QontakServerError(QontakError):
    """Qontak answered with a 5xx error to a read, and retries are exhausted."""


class QontakTransportError(QontakError):
    """The request got no HTTP answer (connection refused, DNS, TLS, timeout) and retries are exhausted."""


class QontakTimeoutError(QontakTransportError):
    """
    The request did not complete within its deadline (connect, write, read, every attempt and wait).

    For a send it is raised only when the request certainly did not leave (the deadline passed while it
    waited for its pacing slot or for a retry after a 429); a send that passes its deadline after being
    written is a :class:`QontakSendInDoubtError`.

    :param deadline: the deadline in seconds.
    """

    def __init__(self, message: str, *, deadline: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.deadline = deadline


class QontakSendInDoubtError(QontakError):
    """
    A send may or may not have reached Qontak (read timeout, 5xx, reset after the body was written).

    It is never retried automatically, because a WhatsApp message cannot be recalled: check the broadcast
    list (or the recipient) before sending again.
    """


class QontakPayloadError(QontakError, ValueError):
    """
    Input that cannot be sent, found before any request was made.

    :param field: the offending field, e.g. ``parameters.body[1].value_text`` or ``to_number``.
    :param expected: what the template or API expects.
    :param given: what was given (never a secret; phone numbers are masked by the caller).
    """

    def __init__(self, field: str, expected: str, given: object = None, *, hint: str | None = None) -> None:
        text = f"{field}: expected {expected}"
        if given is not None:
            text += f", got {given!r}"
        if hint:
            text += f". {hint}"
        super().__init__(text)
        self.field = field
        self.expected = expected
        self.given = given


# ------------------------------------------------------------------------------------------ message text

# Phone-like digit runs (10-15 digits, optional +) inside server messages are masked in exception texts,
# because those texts end up in task logs. Programs still get the raw strings in ``QontakError.messages``.
_PHONE_RE = re.compile(r"(?<![\w-])\+?\d{10,15}(?![\w-])")
#: How Qontak (Rails) words an unknown id in a 422: ``Couldn't find MessageTemplate with 'id'=...``.
_COULD_NOT_FIND_RE = re.compile(r"\bcould(?:n'?t| not) find\b", re.IGNORECASE)

AUTH_HINT = (
    "Check that (1) the client id and secret are the HMAC credentials of a Mekari Developer Center "
    "application (legacy Qontak Bearer tokens do not work on api.mekari.com); (2) this machine's clock is "
    "right, since the gateway rejects a Date header more than 300 s away from its own; (3) the application "
    "has the scope 'qontak-chat:all' (sending also needs 'qontak-chat:broadcasts:whatsapp:direct'); (4) the "
    "Qontak account has both an Admin and a Supervisor (SPV) user, without which the gateway answers 401 "
    "even to valid signatures."
)


def mask_digits(text: str) -> str:
    """Mask phone-like digit runs in ``text`` with :func:`~qontak_provider.client.phone.mask_phone`."""
    from qontak_provider.client.phone import mask_phone

    return _PHONE_RE.sub(lambda match: mask_phone(match.group(0)), text)


#: Longest part of Qontak's own messages quoted in an error message (the full list is on ``.messages``).
MAX_SAID = 300


def _said(messages: Sequence[str]) -> str:
    if not messages:
        return ""
    text = "; ".join(str(m) for m in messages)
    if len(text) > MAX_SAID:
        text = text[: MAX_SAID - 1].rstrip() + "…"
    text = mask_digits(text)
    return " Qontak said: " + text + ("" if text.endswith((".", "!", "?", "…")) else ".")


def _clock_note(date: str | None, now: datetime | None) -> str:
    """For a 401: the measured skew, when the gateway's ``Date`` shows this machine's clock is too far off."""
    from qontak_provider.client.signing import MAX_CLOCK_SKEW_SECONDS, parse_http_date

    if date is None or now is None:
        return ""
    try:
        skew = (now - parse_http_date(date)).total_seconds()
    except ValueError:
        return ""
    if abs(skew) < MAX_CLOCK_SKEW_SECONDS:
        return ""
    way = "ahead of" if skew > 0 else "behind"
    return (
        f" This machine's clock is {abs(skew):.0f} s {way} the gateway's (its Date header), and Mekari "
        f"refuses signatures {MAX_CLOCK_SKEW_SECONDS} s or more away: that alone explains this 401. Fix the "
        "clock (NTP) of this machine or container."
    )


def is_not_found_message(messages: Sequence[str]) -> bool:
    """Whether Qontak's messages say an id was not found (the spec's 422 shape for unknown ids)."""
    return any(_COULD_NOT_FIND_RE.search(str(m)) for m in messages)


def error_for_response(  # noqa: PLR0911 - one return per status family
    kind: RequestKind,
    outcome: HttpOutcome,
    *,
    method: str,
    path: str,
    target: str | None = None,
    attempts: int = 1,
    reset_after: float | None = None,
    now: datetime | None = None,
) -> QontakError:
    """
    Build the typed error for a final non-success HTTP answer.

    :param kind: ``"send"`` or ``"write"`` turns a 5xx into :class:`QontakSendInDoubtError`.
    :param target: what an id lookup looked for (``"template 'abc'"``); ``None`` for a collection path, on
        which a 404 or 405 means the endpoint is unavailable rather than an id unknown.
    :param attempts: how many attempts were made, for the message.
    :param reset_after: seconds until a rate limit resets, for :class:`QontakRateLimitError`.
    :param now: this machine's time, to measure a 401's clock skew against the server's ``Date``.
    """
    status = outcome.status
    messages = list(outcome.messages)
    rid = f", request id {outcome.request_id}" if outcome.request_id else ""
    what = f"{method} {path}"
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    said = _said(messages)
    common: dict[str, object] = {
        "status_code": status,
        "messages": messages,
        "method": method,
        "path": path,
        "request_id": outcome.request_id,
    }
    if status in (401, 403):
        reason = (
            "refused the credentials" if status == 401 else "refused access (missing scope or permission)"
        )
        skew = _clock_note(outcome.date, now) if status == 401 else ""
        return QontakAuthenticationError(
            f"The Mekari gateway {reason} (HTTP {status}{rid}) for {what}.{said}{skew} {AUTH_HINT} "
            "Authentication failures are never retried.",
            **common,  # type: ignore[arg-type]
        )
    if target is not None and (status == 404 or (status == 422 and is_not_found_message(messages))):
        return QontakNotFoundError(
            f"Qontak has no {target} (HTTP {status}{rid} for {what}).{said} Check the id, and that it "
            "belongs to the company of these credentials.",
            **common,  # type: ignore[arg-type]
        )
    if status in (404, 405):
        return QontakEndpointUnavailableError(
            f"The endpoint {what} is not available to these credentials (HTTP {status}{rid}).{said} The "
            "credential may lack its scope (Mekari Developer Center > application > scopes; "
            "'qontak-chat:all' covers every Qontak Chat endpoint), or the gateway does not expose it.",
            **common,  # type: ignore[arg-type]
        )
    if status in (400, 422):
        return QontakValidationError(
            f"Qontak rejected {what} as invalid (HTTP {status}{rid}).{said} Fix the request; it was not "
            "retried.",
            **common,  # type: ignore[arg-type]
        )
    if status == 429:
        when = f" The limit resets in {reset_after:g} s." if reset_after is not None else ""
        return QontakRateLimitError(
            f"Qontak's rate limit was hit (HTTP 429{rid}) on {what}{tries}.{when}{said} "
            "Lower rate_per_minute, spread the sends over more time, or retry later.",
            reset_after=reset_after,
            **common,
        )
    if status >= 500 and kind != "read":
        return QontakSendInDoubtError(
            f"{_request_word(kind)} {what} got HTTP {status}{rid} from Qontak, so {_maybe(kind)}.{said} "
            f"{_not_retried(kind)}",
            **common,  # type: ignore[arg-type]
        )
    if status >= 500:
        return QontakServerError(
            f"Qontak answered {what} with a server error (HTTP {status}{rid}){tries}.{said} The problem is "
            "on Qontak's side; retry later.",
            **common,  # type: ignore[arg-type]
        )
    return QontakError(
        f"Qontak answered {what} with unexpected HTTP {status}{rid}.{said} It was not retried.",
        **common,  # type: ignore[arg-type]
    )


def _request_word(kind: RequestKind) -> str:
    return "The send" if kind == "send" else "The request"


def _maybe(kind: RequestKind) -> str:
    if kind == "send":
        return "the message may or may not have been sent"
    return "it may or may not have taken effect"


def _not_retried(kind: RequestKind) -> str:
    """Why a request that may have arrived is not repeated, and what to do instead."""
    if kind == "send":
        return (
            "It was NOT retried, because a WhatsApp message cannot be recalled: check the broadcast list or "
            "ask the recipient before sending again."
        )
    return "It was NOT retried, because it may have arrived: check in Qontak before repeating it."


def error_for_deadline(
    kind: RequestKind, *, method: str, path: str, deadline: float, attempts: int, waiting_for: str
) -> QontakTimeoutError:
    """The error when a request's deadline passes before it could (again) be written."""
    tries = f" after {attempts} attempt(s)" if attempts else ""
    sent = " Nothing was sent." if kind == "send" else ""
    return QontakTimeoutError(
        f"{method} {path} did not complete within its deadline of {deadline:g} s{tries}: no time was left to "
        f"wait {waiting_for}.{sent} Raise the connection's 'deadline' extra, or try again later.",
        deadline=deadline,
        method=method,
        path=path,
    )


def error_for_failure(
    kind: RequestKind, outcome: TransportOutcome, *, method: str, path: str, attempts: int = 1
) -> QontakError:
    """Build the typed error for a final attempt that got no HTTP answer."""
    from qontak_provider.client.policy import FailureKind

    failure_text = {
        FailureKind.CONNECT: "could not connect",
        FailureKind.TIMEOUT: "got no answer in time",
        FailureKind.DISCONNECTED: "lost the connection",
        FailureKind.FATAL: "could not be made",
    }[outcome.kind]
    what = f"{method} {path}"
    detail = f" ({outcome.detail})" if outcome.detail else ""
    common: dict[str, object] = {"method": method, "path": path}
    if kind != "read" and outcome.kind in (FailureKind.TIMEOUT, FailureKind.DISCONNECTED):
        return QontakSendInDoubtError(
            f"{_request_word(kind)} {what} {failure_text} after the request was written{detail}, so "
            f"{_maybe(kind)}. {_not_retried(kind)}",
            **common,  # type: ignore[arg-type]
        )
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    advice = {
        FailureKind.CONNECT: "Check the connection's host (base URL), DNS, proxy and firewall.",
        FailureKind.TIMEOUT: "Qontak may be slow: retry later or raise the client's timeout.",
        FailureKind.DISCONNECTED: "The network or Qontak dropped the connection: retry later.",
        FailureKind.FATAL: "Check the connection's host (base URL) and TLS setup; retrying will not help.",
    }[outcome.kind]
    return QontakTransportError(
        f"The request {what} {failure_text}{tries}{detail}. {advice}",
        **common,  # type: ignore[arg-type]
    )
