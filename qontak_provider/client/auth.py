"""The signer a client uses: Mekari HMAC credentials as one small, pluggable object.

In the manner of ``httpx.Auth``: the transports never see the secret, they hand each attempt's method and
``path?query`` to :meth:`MekariHmacAuth.headers` and put the returned headers on the request. Another
gateway scheme would be another object with the same method. The pure signing functions live in
:mod:`qontak_provider.client.signing`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from qontak_provider.client.signing import sign_headers


class Secret:
    """Holds the client secret; its repr and str never show it (defence in depth against ``vars(client)``)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("the client secret is empty: set it as the connection's password")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # pickling would carry the secret into XCom or task state: refuse
        raise TypeError("a Qontak client secret must not be pickled")


class RequestAuth(Protocol):
    """What the request flow needs from a signer: the auth headers of one attempt."""

    def headers(self, method: str, path_with_query: str, now: datetime) -> dict[str, str]: ...


class MekariHmacAuth:
    """
    Mekari API gateway HMAC-SHA256 signing with one application's client id and secret.

    :param client_id: the HMAC client id (the ``username`` of the ``Authorization`` header).
    :param client_secret: the HMAC secret; kept in a :class:`Secret`, never shown.
    """

    __slots__ = ("_secret", "client_id")

    def __init__(self, client_id: str, client_secret: str) -> None:
        if not client_id:
            raise ValueError("the client id is empty: set it as the connection's login")
        self.client_id = client_id
        self._secret = Secret(client_secret)

    def headers(self, method: str, path_with_query: str, now: datetime) -> dict[str, str]:
        """Fresh ``Date`` and ``Authorization`` headers for one attempt (a retry must not reuse a Date)."""
        return sign_headers(self.client_id, self._secret.reveal(), method, path_with_query, now=now)

    def __repr__(self) -> str:
        return f"MekariHmacAuth(client_id={self.client_id!r})"

    def __reduce__(self) -> Any:
        raise TypeError("Qontak credentials must not be pickled")
