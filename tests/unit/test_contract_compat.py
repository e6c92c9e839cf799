"""`breaking_changes`: what in a new schema of one published version breaks its consumers."""

from __future__ import annotations

import copy
import json
from typing import Annotated, Any
from uuid import UUID

import pytest
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from shared.contracts.events import REGISTRY
from shared.contracts.schema import breaking_changes

pytestmark = pytest.mark.unit


def base_schema() -> dict[str, Any]:
    return {
        "$id": "no.kulturskoleradet.test.thing-happened.v1",
        "title": "ThingHappened",
        "type": "object",
        "x-kind": "event",
        "x-service": "registration",
        "properties": {
            "thing_id": {"type": "string", "format": "uuid"},
            "code": {"type": "string", "pattern": r"^\d{4}$", "maxLength": 4, "minLength": 4},
            "name": {"type": "string", "maxLength": 200, "minLength": 1},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "language": {"$ref": "#/$defs/Language", "default": "nb"},
            "owner": {"$ref": "#/$defs/Owner"},
            "count": {"type": "integer", "maximum": 100},
        },
        "required": ["thing_id", "code", "name", "owner"],
        "$defs": {
            "Language": {"type": "string", "enum": ["nb", "nn", "en"], "title": "Language"},
            "Owner": {
                "type": "object",
                "title": "Owner",
                "properties": {"email": {"type": "string", "format": "email"}},
                "required": ["email"],
            },
        },
    }


def changed(edit: Any) -> list[str]:
    old = base_schema()
    new = copy.deepcopy(old)
    edit(new)
    return breaking_changes(old, new)


def test_the_same_schema_has_no_breaking_change() -> None:
    assert breaking_changes(base_schema(), base_schema()) == []


def test_adding_an_optional_property_is_not_breaking() -> None:
    def add(schema: dict[str, Any]) -> None:
        schema["properties"]["comment"] = {"type": "string", "default": ""}
        schema["$defs"]["Owner"]["properties"]["phone"] = {"type": "string"}

    assert changed(add) == []


def test_descriptions_titles_defaults_and_looser_bounds_are_not_breaking() -> None:
    def loosen(schema: dict[str, Any]) -> None:
        props = schema["properties"]
        props["name"]["description"] = "What it is called"
        props["name"]["title"] = "Name"
        props["name"]["maxLength"] = 400
        props["name"]["minLength"] = 0
        props["tags"]["maxItems"] = 20
        props["language"]["default"] = "nn"
        schema["$defs"]["Language"]["enum"] = ["nb", "nn", "en", "se"]
        schema["description"] = "Something happened"

    assert changed(loosen) == []


def _one(changes: list[str], *words: str) -> str:
    assert len(changes) == 1, changes
    for word in words:
        assert word in changes[0], changes
    return changes[0]


def test_a_removed_property_is_breaking() -> None:
    def remove(schema: dict[str, Any]) -> None:
        del schema["properties"]["count"]

    _one(changed(remove), "ThingHappened", "'count'", "removed")


def test_a_removed_required_property_is_reported_once() -> None:
    def remove(schema: dict[str, Any]) -> None:
        del schema["properties"]["name"]
        schema["required"].remove("name")

    _one(changed(remove), "'name'", "removed")


@pytest.mark.parametrize(
    ("prop", "key", "value", "words"),
    [
        ("count", "type", "string", ("ThingHappened.count", "type changed", "integer", "string")),
        ("thing_id", "format", "email", ("ThingHappened.thing_id", "format", "uuid", "email")),
        ("code", "pattern", r"^\d{5}$", ("ThingHappened.code", "pattern changed")),
        ("name", "maxLength", 100, ("ThingHappened.name", "maxLength lowered", "200", "100")),
        ("name", "minLength", 2, ("ThingHappened.name", "minLength raised", "1", "2")),
        ("tags", "maxItems", 5, ("ThingHappened.tags", "maxItems lowered", "10", "5")),
        ("count", "maximum", 10, ("ThingHappened.count", "maximum lowered")),
        ("owner", "$ref", "#/$defs/Person", ("ThingHappened.owner", "Owner", "Person")),
    ],
)
def test_a_changed_property_type_is_breaking(
    prop: str, key: str, value: Any, words: tuple[str, ...]
) -> None:
    def edit(schema: dict[str, Any]) -> None:
        schema["properties"][prop][key] = value

    _one(changed(edit), *words)


def test_a_new_length_limit_is_breaking() -> None:
    def limit(schema: dict[str, Any]) -> None:
        schema["properties"]["thing_id"]["maxLength"] = 36

    _one(changed(limit), "thing_id", "maxLength lowered from none to 36")


def test_a_dropped_pattern_is_a_changed_pattern() -> None:
    def drop(schema: dict[str, Any]) -> None:
        del schema["properties"]["code"]["pattern"]

    _one(changed(drop), "ThingHappened.code", "pattern changed", "to none")


def test_a_changed_item_type_is_breaking() -> None:
    def edit(schema: dict[str, Any]) -> None:
        schema["properties"]["tags"]["items"] = {"type": "integer"}

    _one(changed(edit), "ThingHappened.tags[]", "string", "integer")


def test_a_different_anyof_structure_is_breaking() -> None:
    def nullable_int(schema: dict[str, Any]) -> None:
        schema["properties"]["note"]["anyOf"] = [{"type": "integer"}, {"type": "null"}]

    _one(changed(nullable_int), "ThingHappened.note", "anyOf", "string | null", "integer | null")

    def not_nullable(schema: dict[str, Any]) -> None:
        schema["properties"]["note"] = {"type": "string", "default": ""}

    _one(changed(not_nullable), "ThingHappened.note", "type changed")

    def becomes_nullable(schema: dict[str, Any]) -> None:
        schema["properties"]["count"] = {"anyOf": [{"type": "integer"}, {"type": "null"}]}

    _one(changed(becomes_nullable), "ThingHappened.count", "integer", "(integer | null)")


def test_a_constraint_inside_an_anyof_branch_is_compared() -> None:
    def edit(schema: dict[str, Any]) -> None:
        schema["properties"]["note"]["anyOf"][0]["maxLength"] = 10

    _one(changed(edit), "ThingHappened.note (string)", "maxLength lowered")


def test_removed_enum_values_are_breaking() -> None:
    def remove(schema: dict[str, Any]) -> None:
        schema["$defs"]["Language"]["enum"] = ["nb", "nn"]

    _one(changed(remove), "Language", "enum values removed", "'en'")


def test_a_newly_required_property_is_breaking() -> None:
    def require(schema: dict[str, Any]) -> None:
        schema["required"].append("count")

    _one(changed(require), "'count'", "newly required")

    def add_required(schema: dict[str, Any]) -> None:
        schema["properties"]["extra"] = {"type": "string"}
        schema["required"].append("extra")

    _one(changed(add_required), "'extra'", "newly required")


def test_a_required_property_becoming_optional_is_breaking() -> None:
    def relax(schema: dict[str, Any]) -> None:
        schema["required"].remove("name")
        schema["properties"]["name"]["default"] = ""

    _one(changed(relax), "'name'", "no longer required")


def test_tightened_additional_properties_are_breaking() -> None:
    def forbid(schema: dict[str, Any]) -> None:
        schema["additionalProperties"] = False

    _one(changed(forbid), "ThingHappened", "additionalProperties tightened")

    old = {"title": "T", "type": "object", "additionalProperties": {"type": "string"}}
    assert breaking_changes(old, {**old, "additionalProperties": False})
    assert breaking_changes(old, {**old, "additionalProperties": {"type": "integer"}})
    assert breaking_changes(old, {**old, "additionalProperties": True}) == []
    assert breaking_changes({**old, "additionalProperties": False}, old) == []


def test_defs_are_compared_by_name() -> None:
    def edit(schema: dict[str, Any]) -> None:
        owner = schema["$defs"]["Owner"]
        owner["properties"]["email"]["format"] = "uri"
        owner["required"].append("phone")
        owner["properties"]["phone"] = {"type": "string"}

    changes = changed(edit)
    assert len(changes) == 2, changes
    assert any("Owner.email" in c and "format" in c for c in changes)
    assert any("Owner" in c and "'phone'" in c and "newly required" in c for c in changes)


def test_moving_a_type_to_another_service_is_breaking() -> None:
    def move(schema: dict[str, Any]) -> None:
        schema["x-service"] = "scheduling"

    _one(changed(move), "x-service", "registration", "scheduling")


# --- on real pydantic models (plain BaseModel, not registered contracts) ---------------------

Code = Annotated[str, StringConstraints(pattern=r"^\d{4}$")]


class Person(BaseModel):
    email: str


class V1(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Registered")

    registration_id: UUID
    code: Code
    name: Annotated[str, StringConstraints(max_length=200)]
    municipalities: list[Code] = Field(default_factory=list, max_length=100)
    note: str | None = None


class V1WithOptional(V1):
    model_config = ConfigDict(title="Registered")

    comment: str = ""


class V1Broken(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Registered")

    registration_id: int
    code: Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
    name: Annotated[str, StringConstraints(max_length=100)]
    municipalities: list[Code] = Field(default_factory=list, max_length=10)
    note: str
    contact: Person


def test_real_models_adding_an_optional_field_is_compatible() -> None:
    old, new = V1.model_json_schema(), V1WithOptional.model_json_schema()
    assert breaking_changes(old, new) == []


def test_real_models_breaking_changes_are_all_found() -> None:
    changes = breaking_changes(V1.model_json_schema(), V1Broken.model_json_schema())
    text = "\n".join(changes)
    assert "Registered.registration_id: type changed from string (uuid) to integer" in text
    assert "Registered.code: pattern changed" in text
    assert "Registered.name: maxLength lowered from 200 to 100" in text
    assert "Registered.municipalities: maxItems lowered from 100 to 10" in text
    assert "Registered.note: type changed" in text
    assert "'note' is newly required" in text
    assert "'contact' is newly required" in text
    assert len(changes) == 7, changes


def test_real_models_a_nested_model_is_compared_through_defs() -> None:
    old_contact = create_model("Contact", email=(str, ...), phone=(str | None, None))
    new_contact = create_model("Contact", email=(str, ...))
    old = create_model("Registered", contact=(old_contact, ...))
    new = create_model("Registered", contact=(new_contact, ...))
    changes = breaking_changes(old.model_json_schema(), new.model_json_schema())
    assert changes == ["Contact: property 'phone' removed"]


# --- tolerant readers: events stopped forbidding additional properties -------------------------


def forbidding_extras(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` as pydantic writes it for extra="forbid": every object closed."""
    strict = copy.deepcopy(schema)
    for part in (strict, *strict.get("$defs", {}).values()):
        if part.get("type") == "object" and "properties" in part:
            part["additionalProperties"] = False
    return strict


@pytest.mark.parametrize("ce_type", sorted(REGISTRY))
def test_opening_a_published_schema_to_added_properties_is_not_breaking(ce_type: str) -> None:
    schema = REGISTRY[ce_type].model_json_schema()
    # The published v1 events said additionalProperties: false; the tolerant ones do not.
    assert breaking_changes(forbidding_extras(schema), schema) == []
    if "additionalProperties" not in schema:
        assert breaking_changes(schema, forbidding_extras(schema)), "closing it again breaks"


def test_event_schemas_allow_added_properties_and_command_schemas_do_not() -> None:
    for ce_type, model in REGISTRY.items():
        text = json.dumps(model.model_json_schema())
        closed = '"additionalProperties": false' in text
        assert closed == (model.KIND == "command"), ce_type
