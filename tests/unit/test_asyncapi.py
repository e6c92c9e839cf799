"""The AsyncAPI documents say what is on the wire: per topic every message type, named by its
`ce_type`, with its payload schema, its CloudEvents headers and its Kafka key; and each service
serves its document as JSON, without anything from the internet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.catalog import SERVICES
from shared.contracts.events.base import REGISTRY, Contract
from shared.contracts.events.registration import (
    ImportMembers,
    InterestRegistered,
    InterestUpdated,
    MembershipChanged,
    PersonErased,
    RegisterInterest,
)
from shared.contracts.schema import TOMBSTONE, asyncapi_document, key_schema, registered_contracts
from shared.messaging.envelope import Envelope
from shared.runtime.catalog import ServiceDeclaration
from shared.runtime.service import build_app
from shared.runtime.spec import ServiceSpec

pytestmark = pytest.mark.unit


def spec_of(name: str) -> ServiceSpec:
    (service,) = [s for s in SERVICES if s.name == name]
    declaration: ServiceDeclaration[Any] = service
    return declaration.spec(declaration.default_settings())


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {service.name: asyncapi_document(spec_of(service.name)) for service in SERVICES}


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    found: Any = document
    for part in ref[2:].split("/"):
        found = found[part.replace("~1", "/").replace("~0", "~")]
    return found


def refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs_in(item)


def inline(document: dict[str, Any], schema: Any) -> Any:
    """`schema` with every $ref replaced by what it points at (our schemas are not recursive)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return inline(document, resolve(document, schema["$ref"]))
        return {key: inline(document, value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [inline(document, item) for item in schema]
    return schema


def inlined_model_schema(model: type[Contract]) -> Any:
    schema = model.model_json_schema()
    return inline({"$defs": schema.pop("$defs", {})}, schema)


def channel_at(document: dict[str, Any], address: str) -> dict[str, Any]:
    (found,) = [c for c in document["channels"].values() if c["address"] == address]
    channel: dict[str, Any] = found
    return channel


def test_every_reference_resolves(documents: dict[str, dict[str, Any]]) -> None:
    for name, document in documents.items():
        for ref in refs_in(document):
            assert resolve(document, ref) is not None, (name, ref)


def test_the_documents_are_asyncapi_3(documents: dict[str, dict[str, Any]]) -> None:
    for name, document in documents.items():
        assert document["asyncapi"] == "3.0.0"
        assert document["info"]["title"] == f"kulturskole {name}"
        assert document["defaultContentType"] == "application/json"
        # Canonical: what `contracts check` compares is independent of dict order.
        assert json.dumps(document, sort_keys=True) == json.dumps(document)


def test_the_command_channel_carries_every_command_with_its_schema(
    documents: dict[str, dict[str, Any]],
) -> None:
    document = documents["registration"]
    channel = channel_at(document, "kulturskole.registration.commands")
    commands = {
        t for t, m in REGISTRY.items() if m.KIND == "command" and m.SERVICE == "registration"
    }
    assert set(channel["messages"]) == commands
    for ce_type in commands:
        message = resolve(document, channel["messages"][ce_type]["$ref"])
        payload = inline(document, message["payload"])
        model = REGISTRY[ce_type]
        expected = inlined_model_schema(model)
        assert payload == {
            **expected,
            "title": model.__name__,
            "x-kind": "command",
            "x-service": "registration",
        }
        assert payload["type"] == "object" and payload["additionalProperties"] is False
    operation = document["operations"]["receive.registration.commands"]
    assert operation["action"] == "receive"
    handled = {ref["$ref"].rsplit("/", 1)[-1] for ref in operation["messages"]}
    assert handled == commands


def test_one_named_message_per_type_with_headers_and_key(
    documents: dict[str, dict[str, Any]],
) -> None:
    described: set[str] = set()
    for document in documents.values():
        for name, message in document["components"]["messages"].items():
            if name == TOMBSTONE:
                continue
            model = REGISTRY[name]
            described.add(name)
            assert message["name"] == model.TYPE
            assert message["title"] == model.__name__
            assert message["contentType"] == "application/json"
            headers = inline(document, message["headers"])
            common, own = headers["allOf"]
            assert common == document["components"]["schemas"]["CloudEventHeaders"]
            assert own["properties"]["ce_type"] == {"const": model.TYPE}
            assert message["correlationId"]["location"] == "$message.header#/ce_correlationid"
            assert message["bindings"]["kafka"]["key"] == key_schema(model)
    # Every published type is in the document of a service that sends or receives it.
    assert described == {model.TYPE for model in registered_contracts()}


def test_the_headers_schema_describes_what_our_envelope_writes(
    documents: dict[str, dict[str, Any]],
) -> None:
    headers = documents["registration"]["components"]["schemas"]["CloudEventHeaders"]
    written = dict(
        Envelope.wrap(
            MembershipChanged(added=[], removed=[], member_count=0),
            source="/registration",
            subject="membership",
            caused_by=Envelope.wrap(ImportMembers(municipality_numbers=[]), source="/http"),
        ).headers()
    )
    assert set(written) <= set(headers["properties"])
    assert set(headers["required"]) <= set(written)
    assert {"ce_correlationid", "ce_causationid", "content-type"} <= set(written)
    assert headers["properties"]["correlation_id"]["deprecated"] is True


def test_keys_name_the_aggregate_with_its_constraints() -> None:
    interest = key_schema(InterestRegistered)
    assert interest["type"] == "string" and "`branch_id`" in interest["description"]
    assert key_schema(PersonErased)["format"] == "uuid"
    assert key_schema(RegisterInterest)["description"].startswith("The message's `branch`")
    assert key_schema(MembershipChanged)["const"] == "membership"
    municipal = key_schema(REGISTRY["no.kulturskoleradet.registration.municipality-admitted.v1"])
    assert municipal["pattern"] == r"^\d{4}$"


def test_the_events_channel_lists_every_event_and_the_consumer_what_it_handles(
    documents: dict[str, dict[str, Any]],
) -> None:
    events = {t for t, m in REGISTRY.items() if m.KIND == "event" and m.SERVICE == "registration"}
    sent = documents["registration"]["operations"]["send.registration.events"]
    assert {ref["$ref"].rsplit("/", 1)[-1] for ref in sent["messages"]} == events

    notification = documents["notification"]
    assert set(channel_at(notification, "kulturskole.registration.events")["messages"]) == events
    received = notification["operations"]["receive.registration.events"]
    handled = {ref["$ref"].rsplit("/", 1)[-1] for ref in received["messages"]}
    # The consumer lists what it handles: a part of the channel's events, not all of them.
    assert {InterestRegistered.TYPE, InterestUpdated.TYPE, PersonErased.TYPE} <= handled < events
    # Event payloads are open to properties a newer producer adds.
    payload = notification["components"]["schemas"][InterestRegistered.TYPE]
    assert "additionalProperties" not in payload


def test_the_contacts_channel_has_the_tombstone(documents: dict[str, dict[str, Any]]) -> None:
    notification = documents["notification"]
    channel = channel_at(notification, "kulturskole.registration.contacts")
    assert TOMBSTONE in channel["messages"]
    tombstone = notification["components"]["messages"][TOMBSTONE]
    assert tombstone["payload"] == {"type": "null"}
    assert tombstone["bindings"]["kafka"]["key"]["format"] == "uuid"
    configuration = channel["bindings"]["kafka"]["topicConfiguration"]
    assert configuration["cleanup.policy"] == ["compact"]


def test_public_event_topics_say_they_keep_their_history(
    documents: dict[str, dict[str, Any]],
) -> None:
    channel = channel_at(documents["registration"], "kulturskole.registration.events")
    assert channel["bindings"]["kafka"]["topicConfiguration"]["retention.ms"] == -1


async def test_a_service_serves_its_document_as_json_and_no_html_page() -> None:
    spec = spec_of("registration")
    app = build_app(spec)  # nothing connects before the lifespan runs
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        served = await client.get("/asyncapi.json")
        page = await client.get("/asyncapi")

    assert served.status_code == 200
    assert served.json() == asyncapi_document(spec)
    # No HTML viewer that would load its scripts from a CDN: the page leads to the JSON.
    assert page.status_code == 307
    assert page.headers["location"] == "/asyncapi.json"
