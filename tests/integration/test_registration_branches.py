"""A county branch's board contact, kept by programme management: set over
`PUT /branches/{branch}/contact`, its data on the restricted contacts topic only."""

from __future__ import annotations

import pytest

from tests.integration.registration_app import (
    PROGRAMME,
    VESTLAND,
    Registration,
    registration_fixture,  # noqa: F401
    short,
)
from tests.integration.support import data_of, headers_of

pytestmark = pytest.mark.integration

KARI = {"name": "Kari Styreleder", "email": "kari.styre@example.no", "language": "nn"}
PER = {"name": "Per Styreleder", "email": "per.styre@example.no"}


async def test_programme_management_sets_a_boards_contact_and_only_ids_go_public(
    registration: Registration,
) -> None:
    app = registration
    path = "/branches/M%C3%B8re%20og%20Romsdal/contact"  # by name; by id works too
    refused = await app.client.put(path, json=KARI, headers=VESTLAND)
    assert refused.status_code == 403, refused.text
    unknown = await app.client.put("/branches/narnia/contact", json=KARI, headers=PROGRAMME)
    assert (unknown.status_code, unknown.json()["field"]) == (422, "branch"), unknown.text
    bad = await app.client.put(path, json={"name": "Kari"}, headers=PROGRAMME)
    assert bad.status_code == 422, bad.text

    response = await app.client.put(path, json=KARI, headers=PROGRAMME)
    assert response.status_code == 200, response.text
    first = response.json()["result"]
    assert (first["branch_id"], first["branch_name"], first["county_numbers"]) == (
        "more-og-romsdal",
        "Møre og Romsdal",
        ["15"],
    )
    assert (first["set_by"], first["previous_contact_person_id"]) == ("Programledelsen", None)
    # The same person again (by address): the same id, details updated.
    again = await app.client.put(
        "/branches/more-og-romsdal/contact",
        json={**KARI, "name": "Kari S. Leder"},
        headers=PROGRAMME,
    )
    assert again.json()["result"]["contact_person_id"] == first["contact_person_id"]
    # Someone else: a new id, and the one replaced is erased (nothing else refers to her).
    replaced = await app.client.put(
        "/branches/more-og-romsdal/contact", json=PER, headers=PROGRAMME
    )
    per = replaced.json()["result"]
    assert per["previous_contact_person_id"] == first["contact_person_id"]
    assert per["contact_person_id"] != first["contact_person_id"]

    events = await app.published(app.events)
    public = b"".join(r.value or b"" for r in events)
    assert b"kari.styre" not in public and b"per.styre" not in public
    assert [short(headers_of(r)["ce_type"]) for r in events if r.key == b"more-og-romsdal"] == [
        "branch-contact-set.v1"
    ] * 3
    contacts = await app.published(app.contacts)
    pers = [data_of(r) for r in contacts if r.key == per["contact_person_id"].encode()]
    assert [(c["name"], c["email"]) for c in pers] == [(PER["name"], PER["email"])]
    karis = [r for r in contacts if r.key == first["contact_person_id"].encode()]
    assert karis[-1].value is None  # a tombstone: erased
    row = await app.db.fetchrow(
        "SELECT p.email FROM branch_contacts b JOIN persons p ON p.id = b.person_id"
        " WHERE b.branch_id = 'more-og-romsdal'"
    )
    assert row["email"] == PER["email"]
