"""The typed errors of the Qontak client.

One small hierarchy: callers catch :class:`QontakError` for everything, or a subclass for one case. Every
message says what happened and what to do about it; the HTTP status and Qontak's own messages are kept on
the exception for programs. No message, attribute or repr ever contains the client secret or a signature.
"""

from __future__ import annotations

from collections.abc import Sequence


class QontakError(Exception):
    """
    Base class of every error raised by the Qontak client.

    :param message: what happened and what to do, for people.
    :param status_code: HTTP status of the response, when there was one.
    :param messages: Qontak's own ``error.messages`` from the response body.
    :param method: HTTP method of the request.
    :param path: path (with query) of the request, e.g. ``/qontak/chat/v1/integrations``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        messages: Sequence[str] = (),
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.messages = list(messages)
        self.method = method
        self.path = path

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r})"


class QontakAuthenticationError(QontakError):
    """The gateway refused the credentials (401) or their scope (403). Never retried."""


class QontakNotFoundError(QontakError):
    """The resource does not exist (404)."""


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
