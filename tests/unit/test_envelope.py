"""CloudEvents binary-mode envelope: wrapping, headers, decoding and every kind of poison."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.contracts.events.registration import (
    ContactDetails,
    InterestRegistered,
    RegisterInterest,
)
from shared.messaging.envelope import (
    CONTENT_TYPE,
    MAX_VALUE_BYTES,
    SPECVERSION,
    Envelope,
    PoisonMessage,
)

pytestmark = pytest.mark.unit

SOURCE = "/kulturskole/registration"


def register_interest_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "round_id": "2025",
        "branch": "Vestland",
        "municipality_numbers": ["4601", "4602"],
        "contact": {"name": "Kari Nordmann", "email": "kari.nordmann@example.no", "language": "nn"},
        "message": "Styret i Vestland ønskjer å vere med.",
    }
    payload.update(changes)
    return payload


def register_interest(**changes: Any) -> RegisterInterest:
    return RegisterInterest.model_validate(register_interest_payload(**changes))


def interest_registered() -> InterestRegistered:
    return InterestRegistered(
        registration_id=uuid.uuid4(),
        round_id="2025",
        branch_id="vestland",
        branch_name="Vestland",
        county_numbers=["46"],
        municipality_numbers=["4601"],
        contact_person_id=uuid.uuid4(),
        message="",
        registered_at=datetime(2024, 9, 15, 21, 59, tzinfo=UTC),
    )


def valid_headers() -> dict[str, bytes]:
    return dict(Envelope.wrap(register_interest(), source=SOURCE, subject="vestland").headers())


def raw_envelope(payload: Any, type_: str = RegisterInterest.TYPE) -> Envelope:
    """An envelope as it arrives from Kafka, with whatever JSON a producer sent."""
    headers = valid_headers()
    headers["ce_type"] = type_.encode()
    return Envelope.from_kafka(list(headers.items()), json.dumps(payload).encode())


# --- wrap, headers, round trip -----------------------------------------------------------


def test_headers_carry_cloudevents_attributes() -> None:
    command = register_interest()
    before = datetime.now(UTC)
    envelope = Envelope.wrap(command, source=SOURCE, subject="vestland")
    after = datetime.now(UTC)

    headers = dict(envelope.headers())

    assert headers["ce_specversion"] == b"1.0" == SPECVERSION.encode()
    assert headers["ce_id"] == envelope.id.encode()
    uuid.UUID(envelope.id)  # a fresh id is a UUID
    assert headers["ce_type"] == b"no.kulturskoleradet.registration.register-interest.v1"
    assert headers["ce_source"] == SOURCE.encode()
    assert headers["ce_subject"] == b"vestland"
    assert headers["content-type"] == b"application/json" == CONTENT_TYPE.encode()
    # A new conversation: the message is its own correlation and has no cause.
    assert headers["ce_correlationid"] == envelope.id.encode()
    assert "ce_causationid" not in headers
    # Only spec-valid extension names: lowercase letters and digits after the ce_ prefix.
    assert "correlation_id" not in headers and "causation_id" not in headers

    sent_at = datetime.fromisoformat(headers["ce_time"].decode())
    assert sent_at.tzinfo is not None
    assert sent_at.utcoffset() == timedelta(0)
    assert before <= sent_at <= after
    assert all(isinstance(value, bytes) for value in headers.values())


def test_wrap_uses_given_event_id_and_serialises_contract_as_json() -> None:
    command = register_interest()
    envelope = Envelope.wrap(command, source=SOURCE, event_id="fixed-id-1")

    assert envelope.id == "fixed-id-1"
    assert envelope.correlation_id == "fixed-id-1"
    assert json.loads(envelope.data) == json.loads(command.model_dump_json())
    assert json.loads(envelope.data)["contact"]["email"] == "kari.nordmann@example.no"


def test_headers_leave_out_subject_when_there_is_none() -> None:
    headers = dict(Envelope.wrap(register_interest(), source=SOURCE).headers())
    assert "ce_subject" not in headers


def test_two_wraps_get_distinct_ids() -> None:
    command = register_interest()
    first = Envelope.wrap(command, source=SOURCE)
    second = Envelope.wrap(command, source=SOURCE)
    assert first.id != second.id


def test_round_trip_through_kafka_headers_and_value() -> None:
    command = register_interest()
    sent = Envelope.wrap(command, source=SOURCE, subject="vestland")

    received = Envelope.from_kafka(sent.headers(), sent.data)

    assert received == sent
    assert received.time.tzinfo is not None
    decoded = received.decode()
    assert type(decoded) is RegisterInterest
    assert decoded == command
    assert decoded.contact.email == "kari.nordmann@example.no"
    assert decoded.municipality_numbers == ["4601", "4602"]


def test_round_trip_of_event_keeps_uuid_and_aware_time() -> None:
    event = interest_registered()
    sent = Envelope.wrap(event, source=SOURCE)

    decoded = Envelope.from_kafka(sent.headers(), sent.data).decode()

    assert isinstance(decoded, InterestRegistered)
    assert decoded == event
    assert decoded.registered_at == datetime(2024, 9, 15, 21, 59, tzinfo=UTC)


def test_caused_by_carries_correlation_and_causation() -> None:
    command = Envelope.wrap(register_interest(), source="/kulturskole/http")
    event = Envelope.wrap(interest_registered(), source=SOURCE, caused_by=command)
    follow_up = Envelope.wrap(
        interest_registered(), source="/kulturskole/notification", caused_by=event
    )

    assert event.correlation_id == command.id
    assert event.causation_id == command.id
    # The conversation keeps its first id; the cause is always the direct parent.
    assert follow_up.correlation_id == command.id
    assert follow_up.causation_id == event.id

    received = Envelope.from_kafka(follow_up.headers(), follow_up.data)
    headers = dict(follow_up.headers())
    assert headers["ce_correlationid"] == command.id.encode()
    assert headers["ce_causationid"] == event.id.encode()
    assert received.correlation_id == command.id
    assert received.causation_id == event.id


def test_from_kafka_without_correlation_header_uses_ce_id() -> None:
    headers = valid_headers()
    del headers["ce_correlationid"]
    received = Envelope.from_kafka(list(headers.items()), b"{}")
    assert received.correlation_id == headers["ce_id"].decode()
    assert received.causation_id is None


def test_from_kafka_reads_the_headers_written_before_they_were_extension_attributes() -> None:
    """Messages already on topics and in outboxes carry correlation_id and causation_id."""
    headers = valid_headers()
    del headers["ce_correlationid"]
    headers["correlation_id"] = b"conversation-1"
    headers["causation_id"] = b"cause-1"
    received = Envelope.from_kafka(list(headers.items()), b"{}")
    assert (received.correlation_id, received.causation_id) == ("conversation-1", "cause-1")
    # Written again (relayed, or as the cause of a new message), they take the new names.
    rewritten = dict(received.headers())
    assert rewritten["ce_correlationid"] == b"conversation-1"
    assert rewritten["ce_causationid"] == b"cause-1"
    assert "correlation_id" not in rewritten and "causation_id" not in rewritten


def test_the_extension_attributes_win_over_the_old_headers() -> None:
    headers = valid_headers()
    headers["ce_causationid"] = b"new-cause"
    headers["correlation_id"] = b"old-conversation"
    headers["causation_id"] = b"old-cause"
    received = Envelope.from_kafka(list(headers.items()), b"{}")
    assert received.correlation_id == headers["ce_correlationid"].decode()
    assert received.causation_id == "new-cause"


def test_from_kafka_accepts_content_type_with_charset_and_z_time() -> None:
    headers = valid_headers()
    headers["content-type"] = b"application/json; charset=utf-8"
    headers["ce_time"] = b"2024-09-15T21:59:00Z"
    received = Envelope.from_kafka(list(headers.items()), b"{}")
    assert received.time == datetime(2024, 9, 15, 21, 59, tzinfo=UTC)
    assert received.content_type == "application/json; charset=utf-8"


def test_from_kafka_without_content_type_assumes_json() -> None:
    headers = valid_headers()
    del headers["content-type"]
    assert Envelope.from_kafka(list(headers.items()), b"{}").content_type == CONTENT_TYPE


def test_decode_with_accepted_types() -> None:
    envelope = Envelope.wrap(register_interest(), source=SOURCE)
    assert isinstance(envelope.decode(accepted=[RegisterInterest.TYPE]), RegisterInterest)
    with pytest.raises(PoisonMessage) as caught:
        envelope.decode(accepted=[InterestRegistered.TYPE, ContactDetails.TYPE])
    assert RegisterInterest.TYPE in caught.value.reason
    assert "unexpected" in caught.value.reason


# --- poison in the headers ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["ce_specversion", "ce_id", "ce_type", "ce_source"])
def test_missing_required_header_is_poison(name: str) -> None:
    headers = valid_headers()
    del headers[name]
    with pytest.raises(PoisonMessage) as caught:
        Envelope.from_kafka(list(headers.items()), b"{}")
    assert "missing header" in caught.value.reason
    assert name in caught.value.reason


@pytest.mark.parametrize("name", ["ce_id", "ce_type"])
def test_empty_required_header_counts_as_missing(name: str) -> None:
    headers = valid_headers()
    headers[name] = b""
    with pytest.raises(PoisonMessage) as caught:
        Envelope.from_kafka(list(headers.items()), b"{}")
    assert name in caught.value.reason


@pytest.mark.parametrize("headers", [None, []])
def test_no_headers_at_all_is_poison_naming_all_four(headers: Any) -> None:
    with pytest.raises(PoisonMessage) as caught:
        Envelope.from_kafka(headers, b"{}")
    for name in ("ce_specversion", "ce_id", "ce_type", "ce_source"):
        assert name in caught.value.reason


def test_wrong_specversion_is_poison() -> None:
    headers = valid_headers()
    headers["ce_specversion"] = b"0.3"
    with pytest.raises(PoisonMessage) as caught:
        Envelope.from_kafka(list(headers.items()), b"{}")
    assert "ce_specversion" in caught.value.reason
    assert "'0.3'" in caught.value.reason


@pytest.mark.parametrize("content_type", [b"text/plain", b"application/xml", b"application/avro"])
def test_wrong_content_type_is_poison(content_type: bytes) -> None:
    headers = valid_headers()
    headers["content-type"] = content_type
    with pytest.raises(PoisonMessage) as caught:
        Envelope.from_kafka(list(headers.items()), b"{}")
    assert "content-type" in caught.value.reason
    assert content_type.decode() in caught.value.reason


def test_none_value_is_poison() -> None:
    with pytest.raises(PoisonMessage) as caught:
        Envelope.from_kafka(list(valid_headers().items()), None)
    assert "empty" in caught.value.reason


@pytest.mark.parametrize("name", ["ce_source", "ce_subject", "ce_correlationid"])
def test_non_utf8_header_is_poison(name: str) -> None:
    headers = valid_headers()
    headers[name] = b"\xff\xfe bad"
    with pytest.raises(PoisonMessage) as caught:
        Envelope.from_kafka(list(headers.items()), b"{}")
    assert name in caught.value.reason
    assert "UTF-8" in caught.value.reason


def test_naive_ce_time_is_poison() -> None:
    headers = valid_headers()
    headers["ce_time"] = b"2024-09-15T21:59:00"
    with pytest.raises(PoisonMessage) as caught:
        Envelope.from_kafka(list(headers.items()), b"{}")
    assert "time zone" in caught.value.reason


@pytest.mark.parametrize("when", [b"yesterday", b"2024-13-01T00:00:00+00:00"])
def test_unparseable_ce_time_is_poison(when: bytes) -> None:
    headers = valid_headers()
    headers["ce_time"] = when
    with pytest.raises(PoisonMessage) as caught:
        Envelope.from_kafka(list(headers.items()), b"{}")
    assert "ce_time" in caught.value.reason
    assert when.decode() in caught.value.reason


# --- poison in the value --------------------------------------------------------------------


@pytest.mark.parametrize("value", [b"not json", b'{"round_id": ', b"\x80\x81 not utf-8"])
def test_non_json_value_is_poison(value: bytes) -> None:
    envelope = Envelope.from_kafka(list(valid_headers().items()), value)
    with pytest.raises(PoisonMessage) as caught:
        envelope.decode()
    assert "not JSON" in caught.value.reason


def test_unknown_ce_type_is_poison() -> None:
    envelope = raw_envelope(register_interest_payload(), "no.kulturskoleradet.registration.nope.v1")
    with pytest.raises(PoisonMessage) as caught:
        envelope.decode()
    assert "unknown" in caught.value.reason
    assert "no.kulturskoleradet.registration.nope.v1" in caught.value.reason


@pytest.mark.parametrize("payload", [[], None, "text", 42])
def test_json_that_is_not_an_object_is_poison(payload: Any) -> None:
    with pytest.raises(PoisonMessage) as caught:
        raw_envelope(payload).decode()
    assert RegisterInterest.TYPE in caught.value.reason
    assert "failed validation" in caught.value.reason


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"municipality_numbers": ["12"]}, "municipality_numbers.0"),
        ({"municipality_numbers": ["4601", "46O2"]}, "municipality_numbers.1"),
        ({"round_id": "25"}, "round_id"),
        ({"branch": ""}, "branch"),
        (
            {"contact": {"name": "Kari Nordmann", "email": "not-an-email"}},
            "contact.email",
        ),
        (
            {"contact": {"name": "Kari", "email": "kari@example.no", "language": "de"}},
            "contact.language",
        ),
        ({"shoe_size": 42}, "shoe_size"),
        ({"message": "x" * 4001}, "message"),
    ],
    ids=[
        "short-municipality-number",
        "letter-in-municipality-number",
        "short-round",
        "empty-branch",
        "bad-email",
        "unknown-language",
        "extra-field",
        "oversized-message",
    ],
)
def test_schema_invalid_data_is_poison_naming_the_field(
    changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(PoisonMessage) as caught:
        raw_envelope(register_interest_payload(**changes)).decode()
    reason = caught.value.reason
    assert reason.startswith(f"{RegisterInterest.TYPE} failed validation: ")
    assert f"{expected}:" in reason


def test_a_command_with_an_unknown_property_is_refused_naming_it() -> None:
    with pytest.raises(PoisonMessage) as caught:
        raw_envelope(register_interest_payload(shoe_size=42)).decode()
    assert caught.value.reason == (
        f"{RegisterInterest.TYPE} failed validation: "
        "shoe_size: unknown property 'shoe_size', not in this contract"
    )


def test_an_unknown_property_in_a_nested_command_part_is_named_with_its_path() -> None:
    contact = {"name": "Kari", "email": "kari@example.no", "fax": "5555"}
    with pytest.raises(PoisonMessage) as caught:
        raw_envelope(register_interest_payload(contact=contact)).decode()
    assert "contact.fax: unknown property 'fax', not in this contract" in caught.value.reason


def test_an_event_with_a_property_from_a_newer_producer_is_decoded() -> None:
    event = interest_registered()
    data = {**json.loads(event.model_dump_json()), "region_note": "a newer producer's addition"}
    decoded = raw_envelope(data, InterestRegistered.TYPE).decode()
    assert decoded == event


def test_oversized_message_reason_names_the_limit() -> None:
    with pytest.raises(PoisonMessage) as caught:
        raw_envelope(register_interest_payload(message="å" * 4001)).decode()
    assert "4000" in caught.value.reason


def test_message_of_exactly_4000_chars_is_accepted() -> None:
    decoded = raw_envelope(register_interest_payload(message="å" * 4000)).decode()
    assert isinstance(decoded, RegisterInterest)
    assert len(decoded.message) == 4000


def test_missing_fields_are_all_named() -> None:
    with pytest.raises(PoisonMessage) as caught:
        raw_envelope({}).decode()
    for field in ("round_id", "branch", "contact"):
        assert f"{field}: Field required" in caught.value.reason


def test_many_errors_are_summarised() -> None:
    payload = register_interest_payload(municipality_numbers=[str(n) for n in range(8)])
    with pytest.raises(PoisonMessage) as caught:
        raw_envelope(payload).decode()
    # Five errors shown, the rest counted.
    assert "municipality_numbers.4" in caught.value.reason
    assert "municipality_numbers.5" not in caught.value.reason
    assert caught.value.reason.endswith("; and 3 more")


def test_poison_reason_is_also_the_exception_text() -> None:
    error = PoisonMessage("broken")
    assert error.reason == "broken"
    assert str(error) == "broken"


# --- what a lenient parser would let through --------------------------------------------------


@pytest.mark.parametrize("name", ["ce_type", "ce_id", "ce_specversion", "content-type"])
def test_an_attribute_in_two_headers_is_poison(name: str) -> None:
    headers = [*valid_headers().items(), (name, b"another")]
    with pytest.raises(PoisonMessage) as caught:
        Envelope.from_kafka(headers, b"{}")
    assert caught.value.reason == f"header {name!r} more than once"


def test_an_empty_ce_time_is_poison_not_now() -> None:
    headers = valid_headers()
    headers["ce_time"] = b""
    with pytest.raises(PoisonMessage) as caught:
        Envelope.from_kafka(list(headers.items()), b"{}")
    assert caught.value.reason == "ce_time is not an RFC 3339 time: ''"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (json.dumps(register_interest_payload()).encode("utf-16"), "value is not JSON: not UTF-8"),
        (b'{"round_id": NaN}', "value is not JSON: NaN is not a JSON number"),
        (b'{"round_id": -Infinity}', "value is not JSON: -Infinity is not a JSON number"),
        (
            b'{"round_id": "2025", "branch": "A", "round_id": "2026"}',
            "value is not JSON: property 'round_id' twice in one object",
        ),
    ],
    ids=["utf-16", "nan", "infinity", "a-name-twice"],
)
def test_json_that_only_a_lenient_parser_reads_is_poison(value: bytes, reason: str) -> None:
    envelope = Envelope.from_kafka(list(valid_headers().items()), value)
    with pytest.raises(PoisonMessage) as caught:
        envelope.decode()
    assert caught.value.reason.startswith(reason), caught.value.reason


def test_a_nul_in_text_is_poison_naming_where() -> None:
    contact = {"name": "Kari\x00", "email": "kari@example.no"}
    with pytest.raises(PoisonMessage) as caught:
        raw_envelope(register_interest_payload(contact=contact)).decode()
    assert caught.value.reason == (
        f"{RegisterInterest.TYPE} failed validation: contact.name: text contains NUL"
    )


def test_an_escaped_backslash_before_u0000_is_no_nul() -> None:
    decoded = raw_envelope(register_interest_payload(message="C:\\u0000")).decode()
    assert isinstance(decoded, RegisterInterest) and decoded.message == "C:\\u0000"


def test_a_value_over_the_limit_is_poison_before_it_is_parsed() -> None:
    value = b'{"message": "' + b"x" * MAX_VALUE_BYTES + b'"}'
    envelope = Envelope.from_kafka(list(valid_headers().items()), value)
    with pytest.raises(PoisonMessage) as caught:
        envelope.decode()
    assert caught.value.reason == (
        f"value is {len(value)} bytes, more than the {MAX_VALUE_BYTES} a message may be"
    )
