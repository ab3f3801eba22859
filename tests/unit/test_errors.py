"""The typed errors and the text of their messages (qontak_provider.client.errors)."""

from __future__ import annotations

import pytest

from qontak_provider.client.errors import (
    QontakAuthenticationError,
    QontakEndpointUnavailableError,
    QontakNotFoundError,
    QontakRateLimitError,
    QontakValidationError,
    error_for_failure,
    error_for_response,
    is_not_found_message,
    mask_digits,
)
from qontak_provider.client.policy import FailureKind, HttpOutcome, TransportOutcome

# -------------------------------------------------------------------------------------------- error texts


class TestErrorTexts:
    def test_authentication_message_names_the_likely_causes(self) -> None:
        error = error_for_response("read", HttpOutcome(401, ("Unauthorized",)), method="GET", path="/p")
        text = str(error)
        for cause in (
            "client id",
            "secret",
            "clock",
            "300 s",
            "qontak-chat:all",
            "qontak-chat:broadcasts:whatsapp:direct",
            "Admin",
            "Supervisor (SPV)",
            "Unauthorized",
        ):
            assert cause in text
        assert "never retried" in text

    def test_403_says_scope(self) -> None:
        error = error_for_response("send", HttpOutcome(403), method="POST", path="/p")
        assert isinstance(error, QontakAuthenticationError) and "scope" in str(error)

    def test_validation_joins_qontak_messages(self) -> None:
        error = error_for_response(
            "send", HttpOutcome(422, ("target is missing", "language is invalid")), method="POST", path="/p"
        )
        assert "target is missing; language is invalid" in str(error)
        assert error.messages == ["target is missing", "language is invalid"]

    def test_phone_numbers_in_server_messages_are_masked_in_the_text_only(self) -> None:
        error = error_for_response(
            "send",
            HttpOutcome(422, ("to_number 6281234567890 is not on WhatsApp",)),
            method="POST",
            path="/p",
        )
        assert "6281234567890" not in str(error)
        assert "62812*****890" in str(error)
        assert error.messages == ["to_number 6281234567890 is not on WhatsApp"]

    def test_mask_digits_leaves_uuids_and_short_numbers(self) -> None:
        uuid = "56b60c3c-0123-46af-958b-123456789012"
        assert mask_digits(f"{uuid} code 422") == f"{uuid} code 422"
        assert mask_digits("+6281234567890 and 081234567890") == "62812*****890 and 08123****890"
        assert mask_digits("order 123456789") == "order 123456789"  # too short for a phone number

    def test_rate_limit_without_reset(self) -> None:
        error = error_for_response("read", HttpOutcome(429), method="GET", path="/p")
        assert isinstance(error, QontakRateLimitError) and error.reset_after is None
        assert "resets" not in str(error)

    def test_transport_error_for_a_single_attempt_has_no_attempt_count(self) -> None:
        error = error_for_failure("read", TransportOutcome(FailureKind.CONNECT), method="GET", path="/p")
        assert "attempts" not in str(error) and "base URL" in str(error)

    def test_a_404_on_an_id_says_check_the_id(self) -> None:
        error = error_for_response(
            "read",
            HttpOutcome(404, ("Resource not found.",)),
            method="GET",
            path="/b/1",
            target="broadcast '1'",
        )
        assert isinstance(error, QontakNotFoundError)
        assert "Qontak has no broadcast '1'" in str(error) and "Check the id" in str(error)

    def test_a_404_on_a_collection_says_the_endpoint_is_unavailable(self) -> None:
        error = error_for_response(
            "read", HttpOutcome(404), method="GET", path="/qontak/chat/v1/broadcasts/whatsapp"
        )
        assert isinstance(error, QontakEndpointUnavailableError) and not isinstance(
            error, QontakNotFoundError
        )
        assert "not available to these credentials" in str(error) and "scope" in str(error)
        assert "Check the id" not in str(error)

    def test_a_couldnt_find_422_on_a_send_stays_a_refusal(self) -> None:
        error = error_for_response(
            "send", HttpOutcome(422, ("Couldn't find MessageTemplate with 'id'=x",)), method="POST", path="/d"
        )
        assert type(error) is QontakValidationError

    def test_the_request_id_is_kept_and_shown(self) -> None:
        error = error_for_response(
            "read", HttpOutcome(500, (), request_id="req-123"), method="GET", path="/p"
        )
        assert error.request_id == "req-123" and "request id req-123" in str(error)
        assert "request id" not in str(error_for_response("read", HttpOutcome(500), method="GET", path="/p"))


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (("Couldn't find MessageBroadcast with 'id'=1",), True),
        (("Couldnt find it",), True),
        (("could not find the contact list",), True),
        (("Resource not found.",), False),
        (("target is missing",), False),
        ((), False),
    ],
)
def test_is_not_found_message(messages: tuple[str, ...], expected: bool) -> None:
    assert is_not_found_message(messages) is expected


class TestErrorsThatHelp:
    NOW = __import__("datetime").datetime(2026, 1, 1, 12, 0, 0, tzinfo=__import__("datetime").timezone.utc)

    def test_a_401_with_a_far_server_clock_says_the_skew(self) -> None:
        outcome = HttpOutcome(401, ("Unauthorized",), date="Thu, 01 Jan 2026 11:50:00 GMT")
        error = error_for_response("read", outcome, method="GET", path="/p", now=self.NOW)
        assert "This machine's clock is 600 s ahead of the gateway's" in str(error)
        assert "that alone explains this 401" in str(error)
        behind = HttpOutcome(401, (), date="Thu, 01 Jan 2026 12:07:00 GMT")
        assert "420 s behind" in str(
            error_for_response("read", behind, method="GET", path="/p", now=self.NOW)
        )

    def test_a_401_with_a_close_clock_does_not_blame_it(self) -> None:
        outcome = HttpOutcome(401, (), date="Thu, 01 Jan 2026 11:58:00 GMT")
        assert "alone explains" not in str(
            error_for_response("read", outcome, method="GET", path="/p", now=self.NOW)
        )
        no_date = HttpOutcome(401, ())
        assert "alone explains" not in str(
            error_for_response("read", no_date, method="GET", path="/p", now=self.NOW)
        )

    def test_very_long_server_messages_are_cut_in_the_text_only(self) -> None:
        long = "x" * 5000
        error = error_for_response("read", HttpOutcome(500, (long,)), method="GET", path="/p")
        assert len(str(error)) < 700 and "…" in str(error)
        assert error.messages == [long]
