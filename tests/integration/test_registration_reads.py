"""What programme management, boards and observers read back, on the real Kafka and PostgreSQL:
interest with its history, applications (drafts too) with their kommunegruppe, windows,
status by branch and county, the participants export; each principal only what it may see.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.integration.registration_app import (
    AFTER_WINDOW_46,
    AGDER,
    OBSERVER,
    PROGRAMME,
    ROUND,
    START,
    VESTLAND,
    Registration,
    complete_group,
    draft,
    person,
    registration_fixture,  # noqa: F401
)

pytestmark = pytest.mark.integration


def interest(branch: str, municipalities: list[str], email: str, message: str) -> dict[str, Any]:
    return {
        "round_id": ROUND,
        "branch": branch,
        "municipality_numbers": municipalities,
        "contact": {"name": "Kari Kontakt", "email": email, "phone": "+47 912 34 567"},
        "message": message,
    }


async def forbidden(app: Registration, path: str, who: dict[str, str]) -> None:
    response = await app.client.get(path, headers=who)
    assert response.status_code == 403, f"{path}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/problem+json"


async def test_interest_is_read_back_with_its_history_by_those_who_may(
    registration: Registration,
) -> None:
    app = registration
    await app.open_round()
    first = await app.accepted(
        "/interest-registrations",
        interest("Vestland", ["4601"], "kari@example.no", "Bergen vil."),
        VESTLAND,
        status=201,
    )
    # Agder registers interest without naming a municipality yet: it still counts.
    await app.accepted(
        "/interest-registrations",
        interest("agder", [], "styret@agder.example.no", "Vi vil, kommunene følger."),
        AGDER,
        status=201,
    )
    app.clock.now = START.replace(day=5)
    await app.accepted(
        "/interest-registrations",
        interest("Vestland", ["4601", "4640"], "kari@example.no", "Sogndal vil også."),
        VESTLAND,
    )

    path = f"/interest-registrations/{first['registration_id']}"
    read = await app.get(path, PROGRAMME)
    assert read["branch_name"] == "Vestland"
    assert read["message"] == "Sogndal vil også."
    assert read["municipalities"] == [
        {"number": "4601", "name": "Bergen"},
        {"number": "4640", "name": "Sogndal"},
    ]
    assert (read["contact"]["name"], read["contact"]["email"]) == (
        "Kari Kontakt",
        "kari@example.no",
    )
    assert [(h["municipality_numbers"], h["added"], h["removed"]) for h in read["history"]] == [
        (["4601"], ["4601"], []),
        (["4601", "4640"], ["4640"], []),
    ]
    assert [h["message"] for h in read["history"]] == ["Bergen vil.", "Sogndal vil også."]
    assert (await app.get(path, VESTLAND))["id"] == read["id"]  # the branch's own board
    await forbidden(app, path, AGDER)
    await forbidden(app, path, OBSERVER)

    listed = await app.get(f"/rounds/{ROUND}/interest-registrations", PROGRAMME)
    assert sorted(r["branch_id"] for r in listed) == ["agder", "vestland"]
    own = await app.get(f"/rounds/{ROUND}/interest-registrations", AGDER)
    assert [(r["branch_id"], r["municipalities"]) for r in own] == [("agder", [])]
    await forbidden(app, f"/rounds/{ROUND}/interest-registrations?branch=vestland", AGDER)
    await forbidden(app, f"/rounds/{ROUND}/interest-registrations", OBSERVER)

    # The status: both branches registered interest, with names; counts only.
    status = await app.get(f"/rounds/{ROUND}/status", OBSERVER)
    branches = {b["branch_id"]: b for b in status["branches"]}
    assert (branches["agder"]["registered_interest"], branches["agder"]["interested"]) == (True, 0)
    assert (branches["vestland"]["branch_name"], branches["vestland"]["interested"]) == (
        "Vestland",
        2,
    )
    assert branches["nordland"]["registered_interest"] is False
    assert (status["totals"]["branches_interested"], status["totals"]["interested"]) == (2, 2)
    (window,) = status["windows"]
    assert (window["county_number"], window["county_name"], window["deadline"]) == (
        "46",
        "Vestland",
        "2029-09-30",
    )
    assert window["open_now"] is True
    assert "Sogndal vil også." not in str(status) and "kari@example.no" not in str(status)


async def test_a_board_reads_its_own_drafts_and_applications(registration: Registration) -> None:
    app = registration
    await app.open_round()
    group = complete_group()
    saved = await app.accepted("/application-drafts", draft("4640", group), VESTLAND)
    assert (saved["status"], saved["group_size"]) == ("draft", 2)
    await app.submit("4601", [person("kulturskole", "Liv"), person("barnehage", "Anne")])

    read = await app.get(f"/rounds/{ROUND}/applications/4640", VESTLAND)
    assert (read["status"], read["municipality_name"], read["branch_name"]) == (
        "draft",
        "Sogndal",
        "Vestland",
    )
    assert read["motivation"].startswith("Vi vil at flere barn")
    assert read["development_areas"] == ["samskaping", "inkludering"]
    assert read["co_creation_plan"].startswith("Samskaping mellom")
    assert read["group_size"] == 2
    assert [(m["role"], m["email"], m["person_id"]) for m in read["group"]] == [
        (group[0]["role"], group[0]["email"], None),
        (group[1]["role"], group[1]["email"], None),
    ]

    submitted = await app.get(f"/rounds/{ROUND}/applications/4601", PROGRAMME)
    assert submitted["status"] == "submitted"
    assert [m["role"] for m in submitted["group"]] == ["kulturskole", "barnehage"]
    assert all(m["person_id"] for m in submitted["group"])

    mine = await app.get(f"/rounds/{ROUND}/applications", VESTLAND)
    assert [(a["municipality_number"], a["status"], a["group_size"]) for a in mine] == [
        ("4601", "submitted", 2),
        ("4640", "draft", 2),
    ]
    only_drafts = await app.get(f"/rounds/{ROUND}/applications?status=draft", PROGRAMME)
    assert [a["municipality_number"] for a in only_drafts] == ["4640"]
    assert await app.get(f"/rounds/{ROUND}/applications", AGDER) == []
    await forbidden(app, f"/rounds/{ROUND}/applications/4640", AGDER)
    await forbidden(app, f"/rounds/{ROUND}/applications", OBSERVER)

    windows = await app.get(f"/rounds/{ROUND}/application-windows", OBSERVER)
    assert [(w["county_number"], w["opens_on"]) for w in windows] == [("46", "2029-08-20")]
    round_ = await app.get(f"/rounds/{ROUND}", OBSERVER)
    assert (round_["interest_deadline"], round_["state"]) == ("2029-09-15", "open")
    assert round_["branch_names"]["trondelag"] == "Trøndelag"


async def test_status_shows_who_moved_up_and_hides_reasons_from_observers(
    registration: Registration,
) -> None:
    app = registration
    await app.open_round(capacity={"Vestland": 1})  # a region by name
    for number in ("4601", "4640", "4627"):
        await app.submit(number, complete_group())
    app.clock.now = AFTER_WINDOW_46
    await app.accepted(
        "/decisions", {"round_id": ROUND, "municipality_number": "4601", "decision": "admit"}
    )
    await app.accepted(
        "/decisions", {"round_id": ROUND, "municipality_number": "4640", "decision": "waitlist"}
    )
    await app.accepted(
        "/decisions",
        {
            "round_id": ROUND,
            "municipality_number": "4627",
            "decision": "decline",
            "reason": "Uklar plan",
        },
    )
    await app.accepted(
        "/withdrawals",
        {"round_id": ROUND, "municipality_number": "4601", "reason": "Trekker"},
        VESTLAND,
    )

    status = await app.get(f"/rounds/{ROUND}/status", PROGRAMME)
    assert status["promoted"] == [{"number": "4640", "name": "Sogndal"}]
    vestland = next(b for b in status["branches"] if b["branch_id"] == "vestland")
    assert (vestland["admitted"], vestland["promoted_from_waitlist"], vestland["capacity"]) == (
        1,
        1,
        1,
    )
    assert (await app.get(f"/rounds/{ROUND}/status", OBSERVER))["promoted"] == []

    declined_as_observer = await app.status_of("4627")
    assert declined_as_observer["status"] == "declined"
    assert "decision_reason" not in declined_as_observer
    assert (await app.get(f"/rounds/{ROUND}/municipalities/4627/status", VESTLAND))[
        "decision_reason"
    ] == "Uklar plan"
    assert "decision_reason" not in await app.get(
        f"/rounds/{ROUND}/municipalities/4627/status", AGDER
    )
    read = await app.get(f"/rounds/{ROUND}/applications/4640", PROGRAMME)
    assert (read["status"], read["promoted_from_waitlist"], read["decided_by"]) == (
        "admitted",
        True,
        None,  # moved up by Bergen's withdrawal: nobody's decision
    )
    declined = await app.get(f"/rounds/{ROUND}/applications/4627", PROGRAMME)
    assert (declined["decided_by"], declined["decision_reason"]) == (
        "Programledelsen",
        "Uklar plan",
    )


async def test_participants_export_opens_in_excel(registration: Registration) -> None:
    app = registration
    await app.open_round()
    group = [person("kulturskole", "Åse"), person("grunnskole", "Øyvind")]
    group[1]["organisation"] = '=HYPERLINK("x")'  # a formula is not run by the spreadsheet
    await app.submit("4601", group)
    await app.submit("4640", complete_group())
    app.clock.now = AFTER_WINDOW_46
    await app.accepted(
        "/decisions", {"round_id": ROUND, "municipality_number": "4601", "decision": "admit"}
    )

    response = await app.client.get(
        f"/rounds/{ROUND}/participants.csv?branch=Vestland&delimiter=semicolon", headers=PROGRAMME
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="deltakere-2030-vestland.csv"' in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads æøå right
    text = response.content.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [(r["kommune"], r["rolle"], r["navn"], r["epost"]) for r in rows] == [
        ("Bergen", "kulturskole", group[0]["name"], group[0]["email"]),
        ("Bergen", "grunnskole", group[1]["name"], group[1]["email"]),
    ]  # 4640 is not admitted: not a participant
    assert rows[0]["fylkesavdeling"] == "Vestland" and rows[0]["telefon"] == "+47 912 34 567"
    assert rows[1]["organisasjon"] == '\'=HYPERLINK("x")'

    comma = await app.client.get(f"/rounds/{ROUND}/participants.csv", headers=PROGRAMME)
    assert comma.content.decode("utf-8-sig").splitlines()[0].startswith("fylkesavdeling,")
    own = await app.client.get(f"/rounds/{ROUND}/participants.csv", headers=VESTLAND)
    assert own.status_code == 200 and group[0]["email"] in own.text
    for who, branch in ((AGDER, "vestland"), (OBSERVER, "")):
        refused = await app.client.get(
            f"/rounds/{ROUND}/participants.csv?branch={branch}", headers=who
        )
        assert refused.status_code == 403, refused.text
    agder_own = await app.client.get(f"/rounds/{ROUND}/participants.csv", headers=AGDER)
    assert agder_own.content.decode("utf-8-sig").count("\r\n") == 1  # the header row only


async def test_the_membership_csv_takes_an_excel_export(registration: Registration) -> None:
    app = registration
    excel = "\ufeffKommunenummer;Kommunenavn\r\n4601;Bergen\r\n301;Oslo\r\n;\r\n"
    response = await app.client.post(
        "/members/csv",
        content=excel.encode("utf-8"),
        headers={**PROGRAMME, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"]["member_count"] == 2
    assert await app.get("/members") == ["0301", "4601"]
