"""Demo data on the programme's own calendar (the invitation's): the next round whose
interest deadline, 15 September, is still ahead; every county board's contact set, so each
hears of the round; a few branches register interest, as their boards would; presamlinger in
October and November; the counties' application windows after their annual meetings, with
Bergen's application drafted for Vestland's; the programme starting in January.

Safe to run again: each registration carries an Idempotency-Key, so a rerun changes nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.catalog import SERVICES  # noqa: E402
from services.registration.domain.reference import REFERENCE_DIR  # noqa: E402
from shared.runtime.catalog import find  # noqa: E402

DEMO = [
    (
        "Vestland",
        ["4601", "4640", "4627"],
        "Kari Nordmann",
        "nn",
        "Fylkesstyret har drøfta programmet og vil vere med. "
        "Bergen, Sogndal og Askøy er interesserte.",
    ),
    (
        "Trøndelag",
        ["5001", "5006"],
        "Ola Nordmann",
        "nb",
        "Styret ønsker deltakelse. Trondheim og Steinkjer har meldt interesse.",
    ),
    (
        "Nordland",
        ["1804", "1833"],
        "Ingrid Hansen",
        "nb",
        "Bodø og Rana vil delta, flere kommuner avklarer etter årsmøtet.",
    ),
    (
        "Agder",
        [],
        "Sam Smith",
        "en",
        "The board is interested; municipalities will be named after the annual meeting.",
    ),
]


BOARDS = ["vestland", "trondelag", "nordland", "agder"]
# The contact each board names for a municipality: invited to the presamlinger itself and
# answering from its own mail. A municipality without one is invited through the board.
MUNICIPALITY_CONTACTS = {
    "Vestland": [
        ("4601", "Ingeborg Dale", "kulturskolen.bergen@example.no", "nn"),
        ("4627", "Per Askeland", "kulturskolen.askoy@example.no", "nb"),
    ],
    "Trøndelag": [("5001", "Marit Aune", "kulturskolen.trondheim@example.no", "nb")],
}
# Every county branch's board contact, as programme management keeps them (ASCII addresses).
BRANCH_CONTACTS = {
    "oslo-og-viken": ("Nora Berg", "nb"),
    "innlandet": ("Eirik Lien", "nb"),
    "vestfold-og-telemark": ("Mona Dahl", "nb"),
    "agder": ("Sam Smith", "en"),
    "rogaland": ("Siri Eide", "nb"),
    "vestland": ("Kari Nordmann", "nn"),
    "more-og-romsdal": ("Arne Vik", "nn"),
    "trondelag": ("Ola Nordmann", "nb"),
    "nordland": ("Ingrid Hansen", "nb"),
    "troms-finnmark-og-svalbard": ("Aslak Sara", "nb"),
}
# Vestland's adopted development areas, which Bergen's application picks from.
VESTLAND_AREAS = ["Kulturskolen som ressurssenter", "Inkludering", "Samskaping i oppvekstfeltet"]


@dataclass(frozen=True)
class Calendar:
    """The programme's year as the invitation lays it out, for the round a demo run can
    still take part in: interest by 15 September; presamlinger in October and November; the
    counties' annual meetings, then their application windows (to 1 December); decisions in
    December; the programme (semester 1) from January."""

    round_id: str
    interest_deadline: date
    presamlinger: tuple[tuple[date, date], ...]  # the month each falls in, first..last day
    pre_round: tuple[date, date]  # semester 0, around the presamlinger
    window_opens: date
    window_deadline: date
    semester_1: tuple[date, date]

    @classmethod
    def of(cls, today: date) -> Calendar:
        """The first round whose interest deadline is still ahead on `today` (or is today)."""
        start = today.year + 1 if today <= date(today.year, 9, 15) else today.year + 2
        autumn = start - 1
        return cls(
            round_id=str(start),
            interest_deadline=date(autumn, 9, 15),
            presamlinger=(
                (date(autumn, 10, 1), date(autumn, 10, 31)),
                (date(autumn, 11, 1), date(autumn, 11, 30)),
            ),
            pre_round=(date(autumn, 10, 1), date(autumn, 11, 30)),
            window_opens=date(autumn, 11, 1),  # the annual meetings are held by then
            window_deadline=date(autumn, 12, 1),
            semester_1=(date(start, 1, 6), date(start, 6, 19)),
        )


CALENDAR = Calendar.of(datetime.now(ZoneInfo("Europe/Oslo")).date())
ROUND = CALENDAR.round_id
WINDOW_COUNTIES = ("46", "50")  # Vestland, Trøndelag
REFERENCE = REFERENCE_DIR / "kommuner-2024.csv"
REGISTRATION_PORT = find(SERVICES, "registration").default("http_port")
SCHEDULING_PORT = int(
    os.environ.get("KS_SCHEDULING_PORT", find(SERVICES, "scheduling").default("http_port"))
)
OSLO = ZoneInfo("Europe/Oslo")
# Gathering ids of the demo are fixed, so a rerun finds them scheduled (409) and adds none.
DEMO_NAMESPACE = uuid.UUID("0b7d7f0e-5a43-4c59-8f43-7f2f4b1c2a10")


def members_csv() -> str:
    with REFERENCE.open(encoding="utf-8") as f:
        return "kommunenummer\n" + "".join(row["kommunenummer"] + "\n" for row in csv.DictReader(f))


def application_flow(client: httpx.Client, programme: dict[str, str]) -> None:
    """Vestland's and Trøndelag's application windows, after their annual meetings; Vestland's
    board adopts its development areas and drafts Bergen's application (a draft may be saved
    before the window opens; it is submitted in the window)."""
    board = {"Authorization": "Bearer local-board-vestland"}
    group = [
        {
            "name": "Liv Kulturskole",
            "email": "liv.rektor@example.no",
            "role": "kulturskole",
            "organisation": "Bergen kulturskole",
            "commits_to_gatherings": True,
            "language": "nn",
        },
        {
            "name": "Per Skole",
            "email": "per.grunnskole@example.no",
            "role": "grunnskole",
            "organisation": "Nordnes skole",
            "commits_to_gatherings": True,
        },
        {
            "name": "Anne Barnehage",
            "email": "anne.barnehage@example.no",
            "role": "barnehage",
            "organisation": "Bergen kommune, barnehageetaten",
            "commits_to_gatherings": True,
        },
    ]
    steps: list[tuple[str, str, str, dict[str, str], dict[str, object]]] = [
        (
            f"application window for county {county}",
            "POST",
            "/application-windows",
            programme,
            {
                "round_id": ROUND,
                "county_number": county,
                "opens_on": CALENDAR.window_opens.isoformat(),
                "deadline": CALENDAR.window_deadline.isoformat(),
            },
        )
        for county in WINDOW_COUNTIES
    ]
    steps += [
        (
            "Vestland's development areas",
            "PUT",
            f"/rounds/{ROUND}/branches/vestland/development-areas",
            board,
            {"areas": VESTLAND_AREAS},
        ),
        (
            "Bergen's draft",
            "POST",
            "/application-drafts",
            board,
            {
                "round_id": ROUND,
                "municipality_number": "4601",
                "motivation": "Kulturskolen skal vere ein utviklingsaktør i oppvekstfeltet.",
                "development_areas": ["Inkludering", "Samskaping i oppvekstfeltet"],
                "own_development_areas": ["Kulturarv i nærmiljøet"],
                "themes": ["medvirkning", "samskaping"],
                "co_creation_plan": "Felles plan med barnehage og grunnskule for mellomarbeidet.",
                "group": group,
            },
        ),
    ]
    for what, method, path, headers, body in steps:
        response = client.request(method, path, json=body, headers=headers)
        print(f"[demo] {what}: {response.status_code}")
        if response.status_code not in (200, 201, 409):  # 409: done by an earlier run
            raise SystemExit(f"[demo] {what} refused: {response.text}")


def schedule_round(scheduling: str, programme: dict[str, str]) -> None:
    """Vestland's calendar: the pre-round with a presamling in October and one in November,
    the first semester (from January) with two samlinger, on dates the service suggests
    (clear of holidays)."""
    semesters = {0: CALENDAR.pre_round, 1: CALENDAR.semester_1}
    with httpx.Client(base_url=scheduling, timeout=10, headers=programme) as client:
        try:
            client.get("/healthz")
        except httpx.HTTPError as error:
            print(f"[demo] scheduling not reachable at {scheduling} ({error}); calendar skipped")
            return
        # A gathering needs its round: wait until scheduling has read its opening.
        deadline = time.monotonic() + 30
        while client.get(f"/rounds/{ROUND}").status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.5)  # bounded by the deadline
        for number, (first, last) in semesters.items():
            body = {
                "round_id": ROUND,
                "region": "vestland",
                "number": number,
                "starts_on": first.isoformat(),
                "ends_on": last.isoformat(),
            }
            response = client.post("/semesters", json=body)
            print(f"[demo] Vestland semester {number}: {response.status_code}")
            response.raise_for_status()
        # One presamling a month (October, November); two samlinger spread over semester 1.
        wanted = [
            (0, "presamling", "Presamling", {"first": first, "last": last, "count": 1})
            for first, last in CALENDAR.presamlinger
        ] + [(1, "samling", "Samling", {"semester": 1, "count": 2})]
        numbered: dict[str, int] = {}
        for semester, kind, title, where in wanted:
            params = {
                **{k: v.isoformat() if isinstance(v, date) else v for k, v in where.items()},
                "weekdays": "tuesday,wednesday,thursday",
            }
            suggested = client.get(
                f"/rounds/{ROUND}/regions/vestland/date-suggestions", params=params
            )
            suggested.raise_for_status()
            found = suggested.json()
            print(
                f"[demo] suggested {kind} dates {found['dates']}; "
                f"{len(found['passed_over'])} days passed over for holidays"
            )
            for day in found["dates"]:
                index = numbered[kind] = numbered.get(kind, 0) + 1
                gathering_id = uuid.uuid5(DEMO_NAMESPACE, f"{ROUND}:vestland:{kind}:{index}")
                the_day = date.fromisoformat(day)
                response = client.post(
                    "/gatherings",
                    json={
                        "gathering_id": str(gathering_id),
                        "round_id": ROUND,
                        "region": "vestland",
                        "kind": kind,
                        "title": f"{title} {index}: Kulturskolen som utviklingsaktør",
                        "venue": {
                            "name": "Grieghallen",
                            "address": "Edvard Griegs plass 1, Bergen",
                        },
                        "starts_at": datetime.combine(the_day, clock_time(10), OSLO).isoformat(),
                        "ends_at": datetime.combine(the_day, clock_time(15), OSLO).isoformat(),
                        "capacity": 60,
                        "semester": semester,
                    },
                )
                print(f"[demo] {title} {index} on {day}: {response.status_code}")
                if response.status_code not in (201, 409):  # 409: scheduled by an earlier run
                    raise SystemExit(f"[demo] scheduling refused: {response.text}")
        print(
            f"[demo] Vestland's calendar: {scheduling}/feeds/regions/vestland.ics?token=local-observer"
        )


def set_branch_contacts(client: httpx.Client, programme: dict[str, str]) -> None:
    """Every county board's contact, before the round opens, so that each hears of it."""
    for branch, (name, language) in BRANCH_CONTACTS.items():
        response = client.put(
            f"/branches/{branch}/contact",
            headers=programme,
            json={
                "name": name,
                "email": f"leder.{branch.split('-')[0]}@example.no",
                "language": language,
            },
        )
        print(f"[demo] {branch}'s board contact: {response.status_code}")
        if response.status_code != 200:
            raise SystemExit(f"[demo] could not set a board contact: {response.text}")


def mail_count(mail: str, needle: str) -> int:
    """Mails containing `needle`: the local sink's API, or Mailpit's (docker-compose.yml)."""
    # A sink that has just started reads every mail it keeps on the first question: after
    # many test runs on the same stack that takes longer than httpx's default 5 s.
    response = httpx.get(f"{mail}/api/messages", params={"contains": needle}, timeout=120)
    if response.status_code == 404:  # Mailpit
        found = httpx.get(
            f"{mail}/api/v1/search", params={"query": f"to:{needle}"}, timeout=120
        ).json()
        return int(found["messages_count"])
    return len(response.json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registration", default=f"http://127.0.0.1:{REGISTRATION_PORT}")
    parser.add_argument("--mail", default="http://127.0.0.1:8025")
    parser.add_argument("--scheduling", default=f"http://127.0.0.1:{SCHEDULING_PORT}")
    args = parser.parse_args()
    programme = {"Authorization": "Bearer local-programme"}
    with httpx.Client(base_url=args.registration, timeout=10) as client:
        # All of the country's municipalities as members, for the demo; a round open for interest.
        members = client.post(
            "/members/csv",
            headers=programme | {"Content-Type": "text/csv", "Idempotency-Key": "demo-members"},
            content=members_csv(),
        )
        print(f"[demo] membership list: {members.status_code}")
        set_branch_contacts(client, programme)
        opened = client.post(
            "/rounds",
            headers=programme | {"Idempotency-Key": f"demo-round-{ROUND}"},
            json={
                "round_id": ROUND,
                "interest_deadline": CALENDAR.interest_deadline.isoformat(),
                "capacity_per_branch": {"vestland": 2, "trondelag": 2},
            },
        )
        print(f"[demo] round {ROUND}: {opened.status_code} {opened.json()}")
        if opened.status_code not in (201, 409):
            raise SystemExit(f"[demo] could not open the demo round: {opened.text}")
        for number, (branch, municipalities, name, language, message) in enumerate(DEMO):
            body = {
                "round_id": ROUND,
                "branch": branch,
                "municipality_numbers": municipalities,
                "contact": {
                    "name": name,
                    # ASCII: an address outside it would need SMTPUTF8, which the
                    # notification service does not use (such a mail fails, with the reason).
                    "email": f"styret.{branch.lower().replace('ø', 'o')[:6]}@example.no",
                    "language": language,
                },
                "message": message,
                "municipality_contacts": [
                    {
                        "municipality_number": number_,
                        "contact": {"name": who, "email": email, "language": lang},
                    }
                    for number_, who, email, lang in MUNICIPALITY_CONTACTS.get(branch, [])
                ],
            }
            response = client.post(
                "/interest-registrations",
                json=body,
                # Header values are ASCII: key by the branch's position, not its name.
                headers={
                    "Idempotency-Key": f"demo-{ROUND}-branch-{number}",
                    "Authorization": f"Bearer local-board-{BOARDS[number]}",
                },
            )
            print(f"[demo] {branch}: {response.status_code} {response.json()}")
            if response.status_code not in (200, 201):
                raise SystemExit(f"[demo] registration refused the demo data: {response.text}")
        application_flow(client, programme)
    schedule_round(args.scheduling, programme)
    deadline = time.monotonic() + 30
    expected = len(DEMO)  # receipts; each also has a copy to the programme mailbox
    count = 0
    while time.monotonic() < deadline:
        count = mail_count(args.mail, "styret.")
        if count >= expected:
            break
        time.sleep(0.5)  # polling the sink, bounded by the deadline
    print(f"[demo] {count} receipts (and as many programme copies) in the mail sink: {args.mail}/")


if __name__ == "__main__":
    main()
