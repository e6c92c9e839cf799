"""The published contracts as files: JSON Schema per message type, AsyncAPI per service.

`write` puts them under `contracts/` (committed, for downstream consumers); `check` is the CI
guard that a published version (`....vN`) never changes incompatibly and that the committed
files are in step with the code. `breaking_changes` compares two JSON Schemas of one version
from a consumer's point of view.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shared.catalog import Catalog

CONTRACTS_DIR = "contracts"
JSONSCHEMA_DIR = "jsonschema"
ASYNCAPI_DIR = "asyncapi"
GENERATE = "run `kulturskole contracts generate`"

# ---------------------------------------------------------------------------------------------
# Generation


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every registered contract, by its CloudEvents type."""
    import shared.events  # noqa: F401  (registers every published message type)
    from shared.events.base import REGISTRY

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
    the generator. FastStream keeps publishers in a `WeakSet`, so the order of channels and
    operations changes from run to run; keys are sorted to make the document canonical.
    """
    from shared.service import asyncapi_for, build_broker

    documents: dict[str, dict[str, Any]] = {}
    for service in services:
        spec = service.spec(service.default_settings())
        document = asyncapi_for(spec, build_broker(spec, {})).to_jsonable()
        documents[service.name] = json.loads(json.dumps(document, sort_keys=True))
    return documents


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
    """
    written: list[Path] = []
    for ce_type, schema in json_schemas().items():
        written.append(_write(schema_path(root, ce_type), schema))
    for service, document in asyncapi_documents(services).items():
        written.append(_write(asyncapi_path(root, service), document))
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
    optional property (or changing descriptions, titles and defaults) is not breaking.
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
