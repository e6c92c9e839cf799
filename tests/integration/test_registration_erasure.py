"""Erasure in registration leaves nothing of the person in its schema, and a contact replaced
by an update is erased with everything else of theirs. Real Kafka and PostgreSQL, in-process."""

from __future__ import annotations

from typing import Any

import pytest

from shared.testing.fixtures import Endpoints, TestDatabase, eventually
from tests.integration.registration_app import (
    PROGRAMME,
    ROUND,
    VESTLAND,
    Registration,
    draft,
    person,
    registration_fixture,  # noqa: F401
    short,
)
from tests.integration.support import data_of, headers_of
from tests.personal_data import Person, connect_as_superuser, where_found

pytestmark = pytest.mark.integration


def interest(contact: dict[str, str], message: str = "Styret vil delta.") -> dict[str, Any]:
    return {
        "round_id": ROUND,
        "branch": "Vestland",
        "municipality_numbers": ["4601"],
        "contact": contact,
        "message": message,
    }


async def found_in_database(
    endpoints: Endpoints, database: TestDatabase, needles: list[str]
) -> list[str]:
    conn = await connect_as_superuser(endpoints.pg_superuser_dsn, database.name)
    try:
        return await where_found(conn, needles)
    finally:
        await conn.close()


async def test_erasure_leaves_nothing_of_the_person(
    registration: Registration, endpoints: Endpoints, database: TestDatabase
) -> None:
    app = registration
    await app.open_round()
    kari = Person.new("Kari")
    first = await app.accepted(
        "/interest-registrations", interest(kari.contact()), VESTLAND, status=201
    )
    person_id = first["contact_person_id"]
    # The same contact again with a new number: the old one is in a published message now.
    old_number = Person.new("Kari")
    await app.accepted(
        "/interest-registrations",
        interest({**kari.contact(), "phone": old_number.phone_number}),
        VESTLAND,
    )
    await app.accepted("/interest-registrations", interest(kari.contact()), VESTLAND)
    # A draft of a kommunegruppe that names her (drafts hold no person ids, only details).
    ola = person("grunnskole", "Ola")
    her = {**person("kulturskole", "Kari"), **kari.contact(), "email": kari.email.upper()}
    await app.accepted("/application-drafts", draft("4601", [her, ola]), VESTLAND)
    await app.published(app.contacts)  # her contact details are out, their rows published
    needles = [*kari.details, old_number.details[2]]
    assert await found_in_database(endpoints, database, needles)  # the search does find her

    erased = await app.accepted("/erasures", {"person_id": person_id}, PROGRAMME)

    assert erased["person_id"] == person_id
    assert await found_in_database(endpoints, database, needles) == []
    group = await app.db.fetchval(
        "SELECT draft_group FROM applications WHERE municipality_number = '4601'"
    )
    assert [m["email"] for m in group] == [ola["email"]]  # the others stay, in their order
    contacts = [r for r in await app.published(app.contacts) if r.key == person_id.encode()]
    assert contacts[-1].value is None  # a tombstone is what the compacted topic keeps


async def test_a_contact_replaced_by_an_update_is_erased(
    registration: Registration, endpoints: Endpoints, database: TestDatabase
) -> None:
    app = registration
    await app.open_round()
    kari, ola = Person.new("Kari"), Person.new("Ola")
    first = await app.accepted(
        "/interest-registrations", interest(kari.contact()), VESTLAND, status=201
    )
    await app.published(app.contacts)

    updated = await app.accepted("/interest-registrations", interest(ola.contact()), VESTLAND)

    replaced = first["contact_person_id"]
    assert updated["contact_person_id"] != replaced
    assert updated["previous_contact_person_id"] == replaced

    # Kari is told (on the contacts topic, with the address to write to) that Ola holds the
    # role now; once that is sent, nothing of hers stays.
    await app.published(app.contacts)

    async def forgotten() -> bool:
        return await found_in_database(endpoints, database, kari.details) == []

    await eventually(forgotten, timeout=20, what="Kari's last record to leave the outbox")
    assert sorted(await found_in_database(endpoints, database, [ola.email])) == [
        "registration.outbox: " + ola.email,
        "registration.persons: " + ola.email,
    ]
    events = [r for r in await app.published(app.events) if r.key == replaced.encode()]
    assert [short(headers_of(r)["ce_type"]) for r in events] == ["person-erased.v1"]
    assert data_of(events[0])["person_id"] == replaced
    contacts = [r for r in await app.published(app.contacts) if r.key == replaced.encode()]
    # Her details, the notice that someone else holds the role, then a tombstone.
    assert [r.value is None for r in contacts] == [False, False, True]
    assert (
        data_of(contacts[1])["handed_over"]["new_contact_person_id"] == updated["contact_person_id"]
    )
