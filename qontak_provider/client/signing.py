"""Mekari API Gateway HMAC-SHA256 request signing.

Pure functions shared by the sync client, the async client and the sandbox (which verifies with the same
code it would otherwise have to duplicate). The scheme is documented by Mekari's developer centre:

* the string to sign is ``"date: <Date>\\n<METHOD> <path?query> HTTP/1.1"`` (no trailing newline);
* the key is the client secret, the digest HMAC-SHA256, the output standard base64;
* the header is ``hmac username="<id>", algorithm="hmac-sha256", headers="date request-line",
  signature="<b64>"``.

A fresh ``Date`` must be produced for every attempt, retries included, because the gateway rejects dates more
than 300 seconds away from its clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

SIGNED_HEADERS = "date request-line"
ALGORITHM = "hmac-sha256"
#: Largest difference between the gateway's clock and the ``Date`` header that Mekari accepts.
MAX_CLOCK_SKEW_SECONDS = 300

_AUTHORIZATION_RE = re.compile(
    r'^hmac username="(?P<username>[^"]+)", algorithm="(?P<algorithm>[^"]+)", '
    r'headers="(?P<headers>[^"]+)", signature="(?P<signature>[^"]+)"$'
)


def http_date(moment: datetime | None = None) -> str:
    """
    Format ``moment`` (default: now) as an RFC 7231 IMF-fixdate, e.g. ``Wed, 10 Nov 2021 07:24:29 GMT``.

    ``email.utils`` is used rather than ``strftime`` because ``%a``/``%b`` follow the process locale.
    """
    moment = moment or datetime.now(timezone.utc)
    return format_datetime(moment.astimezone(timezone.utc).replace(microsecond=0), usegmt=True)


def parse_http_date(value: str) -> datetime:
    """Parse an RFC 7231 date; raise :class:`ValueError` if it is not one."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as err:
        raise ValueError(f"not an RFC 7231 date: {value!r}") from err
    if parsed is None:  # pragma: no cover - older Pythons returned None instead of raising
        raise ValueError(f"not an RFC 7231 date: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def request_line(method: str, path_with_query: str) -> str:
    """Build the signed request-line: upper-case method, the absolute path and query as sent, ``HTTP/1.1``."""
    if not path_with_query.startswith("/"):
        raise ValueError(f"the request-line needs an absolute path, got {path_with_query!r}")
    return f"{method.upper()} {path_with_query} HTTP/1.1"


def string_to_sign(date: str, method: str, path_with_query: str) -> str:
    """Return the exact two-line string Mekari signs (joined by one LF, no trailing newline)."""
    return f"date: {date}\n{request_line(method, path_with_query)}"


def compute_signature(secret: str, date: str, method: str, path_with_query: str) -> str:
    """Return the base64 HMAC-SHA256 of :func:`string_to_sign` keyed with ``secret``."""
    digest = hmac.new(
        secret.encode("utf-8"),
        string_to_sign(date, method, path_with_query).encode("utf-8"),
        hashlib.sha256,
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def authorization_header(client_id: str, signature: str) -> str:
    """Return the ``Authorization`` value in the exact grammar the gateway parses."""
    return (
        f'hmac username="{client_id}", algorithm="{ALGORITHM}", '
        f'headers="{SIGNED_HEADERS}", signature="{signature}"'
    )


def sign_headers(
    client_id: str, secret: str, method: str, path_with_query: str, *, now: datetime | None = None
) -> dict[str, str]:
    """
    Return the ``Date`` and ``Authorization`` headers for one attempt of a request.

    Call it again for every retry: each attempt needs its own fresh date.
    """
    date = http_date(now)
    signature = compute_signature(secret, date, method, path_with_query)
    return {"Date": date, "Authorization": authorization_header(client_id, signature)}


def body_digest(body: bytes) -> str:
    """Return the optional ``Digest`` header value, ``SHA-256=<base64(sha256(body))>``."""
    return digest_header(hashlib.sha256(body).digest())


def digest_header(sha256: bytes) -> str:
    """The ``Digest`` header value of a body whose SHA-256 is ``sha256`` (a body hashed while streamed)."""
    return "SHA-256=" + base64.b64encode(sha256).decode("ascii")


@dataclass(frozen=True)
class ParsedAuthorization:
    """The four parameters of a Mekari HMAC ``Authorization`` header."""

    username: str
    algorithm: str
    headers: str
    signature: str

    def __repr__(self) -> str:  # the signature is a credential for 300 s: keep it out of reprs
        return (
            f"ParsedAuthorization(username={self.username!r}, algorithm={self.algorithm!r}, "
            f"headers={self.headers!r})"
        )


def parse_authorization(value: str) -> ParsedAuthorization:
    """Parse an ``Authorization`` header in the documented grammar; raise :class:`ValueError` otherwise."""
    match = _AUTHORIZATION_RE.match(value or "")
    if not match:
        raise ValueError("Authorization header does not follow the Mekari HMAC grammar")
    return ParsedAuthorization(**match.groupdict())


def verify_signature(  # noqa: PLR0911 - one early return per rejection reason reads best
    *,
    authorization: str,
    date: str,
    method: str,
    path_with_query: str,
    credentials: dict[str, str],
    now: datetime | None = None,
    max_skew_seconds: int = MAX_CLOCK_SKEW_SECONDS,
) -> str | None:
    """
    Check a signed request the way the gateway does; return ``None`` if valid, else the reason.

    :param credentials: client id to client secret.
    """
    try:
        parsed = parse_authorization(authorization)
    except ValueError as err:
        return str(err)
    if parsed.algorithm != ALGORITHM:
        return f"unsupported algorithm {parsed.algorithm!r}"
    if parsed.headers != SIGNED_HEADERS:
        return f"signed headers must be {SIGNED_HEADERS!r}"
    secret = credentials.get(parsed.username)
    if secret is None:
        return "unknown client id"
    try:
        sent_at = parse_http_date(date)
    except ValueError as err:
        return str(err)
    now = now or datetime.now(timezone.utc)
    if abs((now - sent_at).total_seconds()) >= max_skew_seconds:
        return "Date header is too far from the server clock"
    expected = compute_signature(secret, date, method, path_with_query)
    if not hmac.compare_digest(expected, parsed.signature):
        return "signature mismatch"
    return None
