"""An Idempotency-Key is bound to what the body says, not how it is written; its inbox id
belongs to one caller and route."""

from __future__ import annotations

import json

import pytest

from shared.contracts.events.registration import RegisterInterest
from shared.runtime.idempotency import IdempotentRequest, body_hash, canonical_json

pytestmark = pytest.mark.unit

BODY = {
    "round_id": "2030",
    "branch": "Vestland",
    "municipality_numbers": ["4601", "4640"],
    "contact": {"name": "Kari Kontakt", "email": "kari@example.no"},
    "message": "Styret ønsker å være med.",
}


def parsed(text: str) -> RegisterInterest:
    """The command as the HTTP layer validates it from the raw request body."""
    return RegisterInterest.model_validate_json(text)


def test_key_order_and_whitespace_do_not_change_the_hash() -> None:
    compact = json.dumps(BODY, separators=(",", ":"))
    reordered = json.dumps(dict(reversed(list(BODY.items()))), indent=4)
    spaced = "\n  " + json.dumps(BODY, indent=2).replace(": ", " :  ") + "\n"
    hashes = {body_hash(parsed(text)) for text in (compact, reordered, spaced)}
    assert len(hashes) == 1, hashes


def test_what_the_validated_command_means_is_what_counts() -> None:
    # Stripped whitespace and a default spelled out are the same command.
    padded = BODY | {"branch": "  Vestland "}
    explicit_default = BODY | {
        "contact": BODY["contact"] | {"phone": None, "language": "nb"},
    }
    same = {body_hash(parsed(json.dumps(b))) for b in (BODY, padded, explicit_default)}
    assert len(same) == 1, same


@pytest.mark.parametrize(
    "change",
    [
        {"branch": "Agder"},
        {"municipality_numbers": ["4640", "4601"]},  # order of a list is part of the meaning
        {"message": "Styret ønsker å være med!"},
        {"contact": {"name": "Kari Kontakt", "email": "kari2@example.no"}},
    ],
)
def test_a_different_body_has_a_different_hash(change: dict[str, object]) -> None:
    assert body_hash(parsed(json.dumps(BODY | change))) != body_hash(parsed(json.dumps(BODY)))


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": [1, {"d": "ø", "c": None}], "a": True}) == (
        '{"a":true,"b":[1,{"c":null,"d":"ø"}]}'.encode()
    )
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_inbox_id_is_one_per_caller_route_and_key() -> None:
    def request(caller: str, route: str, key: str) -> IdempotentRequest:
        return IdempotentRequest.of(caller=caller, route=route, key=key, body=BODY)

    base = request("county_board:vestland:Styret i vestland", "POST /interest-registrations", "k")
    assert base.message_id == request(base.caller, base.route, base.key).message_id
    others = {
        request("county_board:agder:Styret i agder", base.route, "k").message_id,
        request(base.caller, "POST /rounds", "k").message_id,
        request(base.caller, base.route, "k2").message_id,
        # Parts are kept apart: moving a separator between them makes another id.
        request("a:b", "c", "d").message_id,
        request("a", "b:c", "d").message_id,
    }
    assert base.message_id not in others and len(others) == 5
    # The id is the inbox's key, and not the caller's raw key.
    assert base.message_id != "k"
