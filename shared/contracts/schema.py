"""The published contracts as files: JSON Schema per message type, AsyncAPI per service.

`write` puts them under `contracts/` (committed, for downstream consumers); `check` is the CI
guard that a published version (`....vN`) never changes incompatibly and that the committed
files are in step with the code. `breaking_changes` compares two JSON Schemas of one version
from a consumer's point of view.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.contracts.events.base import TYPE_PREFIX, Contract
from shared.contracts.topics import DEFAULT_PREFIX, TOPIC_CONFIGS, TopicKind, topic_name
from shared.messaging.envelope import (
    CAUSATION_HEADER,
    CONTENT_TYPE,
    CORRELATION_HEADER,
    LEGACY_CAUSATION_HEADER,
    LEGACY_CORRELATION_HEADER,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
)
from shared.runtime.catalog import Catalog

if TYPE_CHECKING:
    from shared.runtime.spec import ServiceSpec

CONTRACTS_DIR = "contracts"
JSONSCHEMA_DIR = "jsonschema"
ASYNCAPI_DIR = "asyncapi"
GENERATE = "run `kulturskole contracts generate`"

# ---------------------------------------------------------------------------------------------
# Generation


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every registered contract, by its CloudEvents type."""
    import shared.contracts.events  # noqa: F401  (registers every published message type)
    from shared.contracts.events.base import REGISTRY

    schemas: dict[str, dict[str, Any]] = {}
    for ce_type in sorted(REGISTRY):
        model = REGISTRY[ce_type]
        schema = model.model_json_schema()
        schema["$id"] = ce_type
        schema["title"] = model.__name__
        schema["x-kind"] = model.KIND
        schema["x-service"] = model.SERVICE
        schemas[ce_type] = schema
    return schemas


def asyncapi_documents(services: Catalog) -> dict[str, dict[str, Any]]:
    """The AsyncAPI document of every service in the catalog, by service name.

    Each service is described with its settings' defaults (the production topic prefix),
    whatever the environment of the process says, so the files do not depend on who runs
    the generator.
    """
    documents: dict[str, dict[str, Any]] = {}
    for service in services:
        spec = service.spec(service.default_settings())
        documents[service.name] = asyncapi_document(spec)
    return documents


# ---------------------------------------------------------------------------------------------
# AsyncAPI: what a service reads and writes on Kafka, as it is on the wire

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
HEADERS_SCHEMA = "CloudEventHeaders"
TOMBSTONE = "tombstone"
_SCHEMA_REF = "#/components/schemas/{model}"
# Which kind of topic carries a message of each kind (its retention follows from that).
_TOPIC_KIND = {"event": TopicKind.EVENTS, "command": TopicKind.COMMANDS}


def asyncapi_document(spec: ServiceSpec) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of one service, from its spec and the contracts registry.

    Written here rather than by FastStream: its generator knows only the Python signature of
    a subscriber (ours take raw bytes, so every payload came out `null`), not the CloudEvents
    headers, the Kafka key of each message, or the several message types one topic carries.
    Each topic is a channel listing every message type on it, one message per `ce_type`
    (named by it) with its payload schema, its headers and its key; the service's operations
    say which of those it receives (`handlers`) and which it sends (`publishes`). The
    document is canonical (sorted keys), so `check` can compare it with the committed one.
    """
    prefix = spec.settings.topic_prefix
    on_topic: dict[str, list[type[Contract]]] = {}
    for model in registered_contracts():
        on_topic.setdefault(topic_of(model, prefix), []).append(model)

    schemas: dict[str, Any] = {HEADERS_SCHEMA: _headers_schema()}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def channel(address: str) -> str:
        channel_id = address.removeprefix(f"{prefix}.")
        if channel_id in channels:
            return channel_id
        models = on_topic.get(address, [])
        for model in models:
            messages[model.TYPE] = _message(model, schemas)
        entry: dict[str, Any] = {
            "address": address,
            "messages": {m.TYPE: {"$ref": f"#/components/messages/{m.TYPE}"} for m in models},
            "bindings": {"kafka": _channel_binding(address, models)},
        }
        kinds = sorted({m.KIND for m in models})
        entry["description"] = (
            f"Carries {', '.join(kinds)} messages, keyed by aggregate id."
            if kinds
            else "No message types are declared for this topic yet."
        )
        if "contact" in kinds:
            messages[TOMBSTONE] = _tombstone(models)
            entry["messages"][TOMBSTONE] = {"$ref": f"#/components/messages/{TOMBSTONE}"}
            entry["description"] += (
                " Restricted and compacted; erasure is a tombstone (null value) on the key."
            )
        channels[channel_id] = entry
        return channel_id

    def refs(channel_id: str, ids: Sequence[str]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/{channel_id}/messages/{i}"} for i in sorted(ids)]

    for address in spec.subscribe_to:
        channel_id = channel(address)
        # A tombstone reaches every reader of a compacted topic; what it means is its key.
        handled = [
            t for t in channels[channel_id]["messages"] if t in spec.handlers or t == TOMBSTONE
        ]
        others = "dead-lettered" if address.endswith(".commands") else "skipped"
        operations[f"receive.{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": refs(channel_id, handled),
            "summary": f"{spec.name} handles these types; other types on the topic are {others}",
            "bindings": {
                "kafka": {
                    "groupId": {"type": "string", "enum": [spec.settings.group_id]},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
    for address, models in spec.publishes.items():
        channel_id = channel(address)
        sent = [m.TYPE for m in models]
        elsewhere = [t for t in sent if t not in channels[channel_id]["messages"]]
        if elsewhere:
            raise LookupError(f"{spec.name} publishes {elsewhere} on {address}: not their topic")
        if TOMBSTONE in channels[channel_id]["messages"]:
            sent.append(TOMBSTONE)
        operations[f"send.{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": refs(channel_id, sent),
            "summary": f"{spec.name} publishes these types from its outbox, at least once",
        }

    document = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"kulturskole {spec.name}",
            "version": spec.version,
            "description": spec.description,
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
    canonical: dict[str, Any] = json.loads(json.dumps(document, sort_keys=True))
    return canonical


def registered_contracts() -> list[type[Contract]]:
    """Every published message type, in `ce_type` order."""
    import shared.contracts.events  # noqa: F401  (registers every published message type)
    from shared.contracts.events.base import REGISTRY

    return [REGISTRY[ce_type] for ce_type in sorted(REGISTRY)]


def topic_of(model: type[Contract], prefix: str) -> str:
    """The topic that carries messages of `model`'s type."""
    return topic_name(model.SERVICE, model.TOPIC, prefix)


def key_schema(model: type[Contract]) -> dict[str, Any]:
    """The JSON Schema of a message type's Kafka key (a UTF-8 string): its aggregate id."""
    if model.FIXED_KEY is not None:
        return {
            "type": "string",
            "const": model.FIXED_KEY,
            "description": "There is one aggregate of its kind: every message has this key",
        }
    assert model.KEY is not None  # the registry refuses a type that declares no key
    prop = model.model_json_schema()["properties"][model.KEY]
    constraints = {k: prop[k] for k in ("format", "pattern") if k in prop}
    return {
        "type": "string",
        **constraints,
        "description": f"The message's `{model.KEY}`: the aggregate it is about",
    }


def _message(model: type[Contract], schemas: dict[str, Any]) -> dict[str, Any]:
    # Nested models become components of their own, referred to from the payload.
    payload = model.model_json_schema(ref_template=_SCHEMA_REF)
    for name, definition in payload.pop("$defs", {}).items():
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas are named {name}: rename one ({model})")
    payload.update({"title": model.__name__, "x-kind": model.KIND, "x-service": model.SERVICE})
    schemas[model.TYPE] = payload
    message: dict[str, Any] = {
        "name": model.TYPE,
        "title": model.__name__,
        "contentType": CONTENT_TYPE,
        "headers": {
            "allOf": [
                {"$ref": _SCHEMA_REF.format(model=HEADERS_SCHEMA)},
                {"type": "object", "properties": {"ce_type": {"const": model.TYPE}}},
            ]
        },
        "correlationId": {
            "description": "The conversation this message belongs to",
            "location": f"$message.header#/{CORRELATION_HEADER}",
        },
        "payload": {"$ref": _SCHEMA_REF.format(model=model.TYPE)},
        "bindings": {"kafka": {"key": key_schema(model), "bindingVersion": KAFKA_BINDING_VERSION}},
    }
    if model.__doc__:
        message["summary"] = " ".join(model.__doc__.split("\n\n")[0].split())
    return message


def _tombstone(models: Sequence[type[Contract]]) -> dict[str, Any]:
    (contact,) = [m for m in models if m.KIND == "contact"]
    return {
        "name": TOMBSTONE,
        "title": "Tombstone",
        "summary": "Erasure: the key's record is gone; delete what you hold for it",
        "description": (
            "A null value under the key of the record it erases, without CloudEvents headers. "
            "Compaction keeps it a day, then the key is gone from the topic."
        ),
        "payload": {"type": "null"},
        "bindings": {
            "kafka": {"key": key_schema(contact), "bindingVersion": KAFKA_BINDING_VERSION}
        },
    }


def _headers_schema() -> dict[str, Any]:
    """The Kafka headers of every message: CloudEvents 1.0 attributes in binary mode."""
    return {
        "type": "object",
        "title": "CloudEvents 1.0 attributes as Kafka headers (binary mode), UTF-8 strings",
        "properties": {
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_id": {
                "type": "string",
                "minLength": 1,
                "description": "Unique id; a redelivery keeps it, so de-duplicate on it",
            },
            "ce_type": {"type": "string", "description": "The versioned type; names the schema"},
            "ce_source": {
                "type": "string",
                "format": "uri-reference",
                "description": "Who produced it, e.g. /registration",
            },
            "ce_time": {
                "type": "string",
                "format": "date-time",
                "description": "When, with a time zone; always set by the platform's producers",
            },
            "ce_subject": {
                "type": "string",
                "description": "The aggregate the message is about: the same as the key",
            },
            "content-type": {
                "type": "string",
                "pattern": "^application/json",
                "description": "Always set by the platform's producers; absent means JSON",
            },
            CORRELATION_HEADER: {
                "type": "string",
                "description": (
                    "Extension attribute correlationid: the ce_id of the message that started "
                    "the conversation"
                ),
            },
            CAUSATION_HEADER: {
                "type": "string",
                "description": (
                    "Extension attribute causationid: the ce_id of the message that caused "
                    "this one; absent on the first"
                ),
            },
            TRACEPARENT_HEADER: {
                "type": "string",
                "description": (
                    "Extension attribute traceparent (CloudEvents distributed tracing): the W3C "
                    "trace context of the message's making; present while tracing is on"
                ),
            },
            TRACESTATE_HEADER: {
                "type": "string",
                "description": "Extension attribute tracestate: the W3C tracestate, if any",
            },
            LEGACY_CORRELATION_HEADER: {
                "type": "string",
                "deprecated": True,
                "description": f"{CORRELATION_HEADER} on messages written before it existed",
            },
            LEGACY_CAUSATION_HEADER: {
                "type": "string",
                "deprecated": True,
                "description": f"{CAUSATION_HEADER} on messages written before it existed",
            },
        },
        # What a consumer needs (CloudEvents' required attributes); ours write them all.
        "required": ["ce_specversion", "ce_id", "ce_type", "ce_source"],
    }


def _channel_binding(address: str, models: Sequence[type[Contract]]) -> dict[str, Any]:
    binding: dict[str, Any] = {"topic": address, "bindingVersion": KAFKA_BINDING_VERSION}
    kinds = {_TOPIC_KIND.get(m.KIND, TopicKind.COMPACTED) for m in models} or {
        kind for kind in TopicKind if address.endswith(f".{kind.value}")
    }
    if len(kinds) == 1:
        (kind,) = kinds
        # As `ensure_topics` creates the topic; in the binding's types.
        binding["topicConfiguration"] = {
            name: [value] if name == "cleanup.policy" else int(value)
            for name, value in TOPIC_CONFIGS[kind].items()
        }
    return binding


# ---------------------------------------------------------------------------------------------
# docs/events.md: its tables of message types, keys, ordering and retention are generated

EVENTS_DOC = ("docs", "events.md")
TABLES_BEGIN = "<!-- generated by `kulturskole contracts generate` from shared/contracts/events; do not edit -->"
TABLES_END = "<!-- end of generated tables -->"
_RETENTION_OF = {
    TopicKind.EVENTS: "public history of a service's events",
    TopicKind.COMMANDS: "requests to a service",
    TopicKind.COMPACTED: "the latest record per key (restricted)",
    TopicKind.DLQ: "what a consumer could not handle, beside each topic",
}
_TOPIC_PATTERN = {
    TopicKind.EVENTS: "`<prefix>.<service>.events`",
    TopicKind.COMMANDS: "`<prefix>.<service>.commands`",
    TopicKind.COMPACTED: "`<prefix>.<service>.<name>`, e.g. `kulturskole.registration.contacts`",
    TopicKind.DLQ: "`<topic>.dlq`",
}


def events_doc_path(root: Path) -> Path:
    return root.joinpath(*EVENTS_DOC)


def events_doc_tables() -> str:
    """The generated part of docs/events.md: every message type with its topic and key, the
    ordering that follows from the keys, and the retention of each kind of topic."""
    models = registered_contracts()
    lines = [
        TABLES_BEGIN,
        "",
        "### Message types, topics and keys",
        "",
        "| type (`ce_type`) | kind | topic | Kafka key |",
        "| --- | --- | --- | --- |",
    ]
    for model in models:
        schema = f"../{CONTRACTS_DIR}/{JSONSCHEMA_DIR}/{model.TYPE}.json"
        lines.append(
            f"| [`{model.TYPE}`]({schema}) | {model.KIND} | `{topic_of(model, DEFAULT_PREFIX)}` "
            f"| {_key_text(model)} |"
        )
    lines += [
        "",
        "### Ordering: one topic, one key, one partition, in order",
        "",
        "| topic | key | these types are in order with each other for one key |",
        "| --- | --- | --- |",
    ]
    groups: dict[tuple[str, str], list[str]] = {}
    for model in models:
        where = (topic_of(model, DEFAULT_PREFIX), _key_text(model))
        groups.setdefault(where, []).append(model.TYPE.removeprefix(f"{TYPE_PREFIX}."))
    for (topic, key), types in sorted(groups.items()):
        lines.append(f"| `{topic}` | {key} | {', '.join(f'`{t}`' for t in types)} |")
    lines += [
        "",
        "### Retention by kind of topic",
        "",
        "| kind | topics | what for | keeps | topic configs |",
        "| --- | --- | --- | --- | --- |",
    ]
    for kind in TopicKind:
        configs = TOPIC_CONFIGS[kind]
        shown = ", ".join(f"`{k}={v}`" for k, v in configs.items())
        lines.append(
            f"| {kind.value} | {_TOPIC_PATTERN[kind]} | {_RETENTION_OF[kind]} "
            f"| {_keeps(configs)} | {shown} |"
        )
    return "\n".join([*lines, "", TABLES_END])


def _keeps(configs: Mapping[str, str]) -> str:
    """How long a topic with `configs` keeps a record, in words."""

    def span(ms: str) -> str:
        days = int(ms) / 86_400_000
        return "for ever" if days < 0 else f"{days:g} day{'' if days == 1 else 's'}"

    if configs.get("cleanup.policy") == "compact":
        tombstones = configs.get("delete.retention.ms")
        kept = "the latest record per key, for as long as it is current"
        return kept + (f"; a tombstone {span(tombstones)}" if tombstones else "")
    return span(configs.get("retention.ms", "604800000"))  # Kafka's default: 7 days


def _key_text(model: type[Contract]) -> str:
    return f"`{model.KEY}`" if model.KEY else f'`"{model.FIXED_KEY}"` (always)'


def _with_tables(text: str, tables: str) -> str:
    """`text` with its generated part replaced by `tables`; ValueError without markers."""
    start, end = text.find(TABLES_BEGIN), text.find(TABLES_END)
    if start < 0 or end < start:
        raise ValueError(f"{'/'.join(EVENTS_DOC)}: no generated part ({TABLES_BEGIN!r} … )")
    return text[:start] + tables + text[end + len(TABLES_END) :]


def render(document: Mapping[str, Any]) -> str:
    """How a contract file is written: sorted keys, indent 2, trailing newline."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def schema_path(root: Path, ce_type: str) -> Path:
    return root / CONTRACTS_DIR / JSONSCHEMA_DIR / f"{ce_type}.json"


def asyncapi_path(root: Path, service: str) -> Path:
    return root / CONTRACTS_DIR / ASYNCAPI_DIR / f"{service}.json"


def write(root: Path, services: Catalog) -> list[Path]:
    """Write every schema and AsyncAPI document under `root/contracts`; returns the paths.

    Never deletes: a committed schema of a type that is gone stays, and `check` reports it.
    Brings the generated tables of docs/events.md up to date, if it is there.
    """
    written: list[Path] = []
    for ce_type, schema in json_schemas().items():
        written.append(_write(schema_path(root, ce_type), schema))
    for service, document in asyncapi_documents(services).items():
        written.append(_write(asyncapi_path(root, service), document))
    doc = events_doc_path(root)
    if doc.is_file():  # written by hand around its generated tables
        text = doc.read_text(encoding="utf-8")
        updated = _with_tables(text, events_doc_tables())
        if updated != text:
            doc.write_text(updated, encoding="utf-8")
        written.append(doc)
    return written


def _write(path: Path, document: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(document), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Compatibility

_SHAPE_KEYS = ("$ref", "anyOf", "oneOf", "allOf")
_SAME_OR_BREAKING = ("format", "const", "pattern")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What in `new` breaks a consumer of `old`, both JSON Schemas of one published version.

    Breaking: a property removed; a property's type changed (type, format, $ref, the
    anyOf/oneOf/allOf structure, enum values removed, pattern changed, length, item and
    numeric bounds tightened); a property newly required; a required property becoming
    optional; additionalProperties tightened. `$defs` are compared by name. Adding an
    optional property (or changing descriptions, titles and defaults) is not breaking, nor
    is loosening additionalProperties (events stopped saying `false`: tolerant readers).
    """
    name = str(old.get("title") or new.get("title") or "schema")
    changes = _compare(old, new, name)
    for key in ("x-service", "x-kind"):
        if key in old and old.get(key) != new.get(key):
            changes.append(f"{name}: {key} changed from {old[key]!r} to {new.get(key)!r}")
    old_defs: Mapping[str, Any] = old.get("$defs") or {}
    new_defs: Mapping[str, Any] = new.get("$defs") or {}
    for def_name, old_def in old_defs.items():
        # A definition gone from `new` is no longer referenced: the $ref that pointed to it
        # has changed, and that is reported where it is used.
        if def_name in new_defs:
            changes += _compare(old_def, new_defs[def_name], def_name)
    return changes


def _compare(old: Any, new: Any, where: str) -> list[str]:
    """Breaking differences between two (sub)schemas at `where`."""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        # Boolean schemas: `true` accepts anything, `false` nothing.
        if old != new and new is not True:
            return [f"{where}: type changed from {_describe(old)} to {_describe(new)}"]
        return []
    if _shape(old) != _shape(new):
        # One message for a different kind of value; its details would only repeat it.
        return [f"{where}: type changed from {_describe(old)} to {_describe(new)}"]

    changes: list[str] = []
    for key in _SAME_OR_BREAKING:
        if old.get(key) != new.get(key):
            changes.append(f"{where}: {key} changed from {_show(old, key)} to {_show(new, key)}")
    if "enum" in new:
        if "enum" not in old:
            changes.append(f"{where}: now restricted to enum {new['enum']!r}")
        else:
            removed = [value for value in old["enum"] if value not in new["enum"]]
            if removed:
                changes.append(f"{where}: enum values removed: {removed!r}")
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            changes.append(f"{where}: {key} lowered from {_show(old, key)} to {new[key]!r}")
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            changes.append(f"{where}: {key} raised from {_show(old, key)} to {new[key]!r}")

    for key in ("anyOf", "oneOf", "allOf"):
        if key in old:
            changes += _compare_branches(key, old[key], new[key], where)
    if "items" in old and "items" in new:
        changes += _compare(old["items"], new["items"], f"{where}[]")
    elif "items" in new:
        changes.append(f"{where}: items now restricted to {_describe(new['items'])}")
    old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
    if old_prefix or new_prefix:
        if len(old_prefix) != len(new_prefix):
            changes.append(
                f"{where}: tuple length changed from {len(old_prefix)} to {len(new_prefix)}"
            )
        for index, (old_item, new_item) in enumerate(zip(old_prefix, new_prefix, strict=False)):
            changes += _compare(old_item, new_item, f"{where}[{index}]")
    if any(key in schema for schema in (old, new) for key in ("properties", "required")) or (
        any("additionalProperties" in schema for schema in (old, new))
    ):
        changes += _compare_object(old, new, where)
    return changes


def _compare_branches(key: str, old: list[Any], new: list[Any], where: str) -> list[str]:
    """anyOf/oneOf/allOf: the same alternatives (by what they are), each compatible."""
    old_by_kind = {_describe(branch): branch for branch in old}
    new_by_kind = {_describe(branch): branch for branch in new}
    if sorted(old_by_kind) != sorted(new_by_kind) or len(old) != len(new):
        return [f"{where}: {key} changed from {_describe({key: old})} to {_describe({key: new})}"]
    changes: list[str] = []
    for kind, branch in old_by_kind.items():
        changes += _compare(branch, new_by_kind[kind], f"{where} ({kind})")
    return changes


def _compare_object(old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> list[str]:
    changes: list[str] = []
    old_props: Mapping[str, Any] = old.get("properties") or {}
    new_props: Mapping[str, Any] = new.get("properties") or {}
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    for prop, old_schema in old_props.items():
        if prop not in new_props:
            changes.append(f"{where}: property {prop!r} removed")
        else:
            changes += _compare(old_schema, new_props[prop], f"{where}.{prop}")
    for prop in sorted(new_required - old_required):
        changes.append(f"{where}: property {prop!r} is newly required")
    for prop in sorted(old_required - new_required):
        if prop in new_props:
            changes.append(
                f"{where}: property {prop!r} is no longer required (consumers rely on it)"
            )

    old_extra = _additional(old.get("additionalProperties", True))
    new_extra = _additional(new.get("additionalProperties", True))
    if old_extra is True and new_extra is not True:
        changes.append(
            f"{where}: additionalProperties tightened from any to {_describe(new_extra)}"
        )
    elif isinstance(old_extra, Mapping) and new_extra is False:
        changes.append(
            f"{where}: additionalProperties tightened from {_describe(old_extra)} to none"
        )
    elif isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
        changes += _compare(old_extra, new_extra, f"{where}.*")
    return changes


def _additional(value: Any) -> Any:
    """`additionalProperties` with `{}` (any value) read as `true`."""
    return True if value == {} else value


def _shape(schema: Mapping[str, Any]) -> tuple[Any, ...]:
    """What kind of value a schema is, apart from its constraints."""
    types = schema.get("type")
    type_set = frozenset([types] if isinstance(types, str) else types or ())
    return (type_set, schema.get("$ref"), *(key in schema for key in _SHAPE_KEYS[1:]))


def _describe(schema: Any) -> str:
    """A short, human-readable kind of a (sub)schema, e.g. `string (uuid)` or `Language`."""
    if schema is True:
        return "any"
    if schema is False:
        return "none"
    if not isinstance(schema, Mapping):
        return repr(schema)
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key, joiner in (("anyOf", " | "), ("oneOf", " | "), ("allOf", " & ")):
        if key in schema:
            return "(" + joiner.join(_describe(branch) for branch in schema[key]) + ")"
    if "const" in schema:
        return f"const {schema['const']!r}"
    types = schema.get("type")
    if types is None:
        described = "any"
    elif isinstance(types, str):
        described = types
    else:
        described = " | ".join(types)
    if "format" in schema:
        described += f" ({schema['format']})"
    if types == "array" and "items" in schema:
        described += f" of {_describe(schema['items'])}"
    return described


def _show(schema: Mapping[str, Any], key: str) -> str:
    return repr(schema[key]) if key in schema else "none"


# ---------------------------------------------------------------------------------------------
# The CI guard


def published_breaks(root: Path) -> list[str]:
    """Committed schemas whose type is gone, or that the current code breaks."""
    generated = json_schemas()
    problems: list[str] = []
    for ce_type, committed in _committed_schemas(root).items():
        if ce_type not in generated:
            problems.append(
                f"{ce_type}: published version removed: no contract is registered for it; "
                "a published version stays until it is retired on purpose"
            )
        elif isinstance(committed, str):
            problems.append(f"{ce_type}: committed schema is not valid JSON: {committed}")
        else:
            problems += [
                f"{ce_type}: breaking change to a published version: {change}; "
                "a breaking change needs a new .vN type"
                for change in breaking_changes(committed, generated[ce_type])
            ]
    return problems


def check(root: Path, services: Catalog) -> list[str]:
    """Everything wrong with the committed contracts under `root/contracts`; [] is fine."""
    generated = json_schemas()
    committed = _committed_schemas(root)
    problems = published_breaks(root)
    broken = {problem.split(":", 1)[0] for problem in problems}
    for ce_type, schema in generated.items():
        if ce_type not in committed:
            problems.append(f"{ce_type}: not generated: {GENERATE}")
        elif ce_type not in broken and committed[ce_type] != schema:
            problems.append(f"{ce_type}: out of date: regenerate ({GENERATE})")

    documents = asyncapi_documents(services)
    for service, document in documents.items():
        path = asyncapi_path(root, service)
        if not path.is_file():
            problems.append(f"asyncapi/{service}.json: not generated: {GENERATE}")
        elif _load(path) != document:
            problems.append(f"asyncapi/{service}.json: out of date: regenerate ({GENERATE})")
    asyncapi_dir = root / CONTRACTS_DIR / ASYNCAPI_DIR
    for path in sorted(asyncapi_dir.glob("*.json")) if asyncapi_dir.is_dir() else ():
        if path.stem not in documents:
            problems.append(f"asyncapi/{path.name}: not a service: remove it")

    doc, name = events_doc_path(root), "/".join(EVENTS_DOC)
    if not doc.is_file():
        problems.append(f"{name}: missing: the guide for consumers, with generated tables")
    else:
        text = doc.read_text(encoding="utf-8")
        try:
            current = _with_tables(text, events_doc_tables()) == text
        except ValueError as error:
            problems.append(str(error))
        else:
            if not current:
                problems.append(f"{name}: tables out of date: regenerate ({GENERATE})")
    return problems


def _committed_schemas(root: Path) -> dict[str, Any]:
    """Committed schemas by type; an unreadable one as the error message (a str)."""
    directory = root / CONTRACTS_DIR / JSONSCHEMA_DIR
    if not directory.is_dir():
        return {}
    committed: dict[str, Any] = {}
    for path in sorted(directory.glob("*.json")):
        ce_type = path.name.removesuffix(".json")
        try:
            committed[ce_type] = _load(path)
        except ValueError as error:
            committed[ce_type] = str(error)
    return committed


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
