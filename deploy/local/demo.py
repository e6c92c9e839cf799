"""Demo data: a few county branches register interest, as their boards would; Bergen is
admitted; Vestland's calendar gets its presamlinger and first semester.

Safe to run again: each registration carries an Idempotency-Key, so a rerun changes nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.catalog import SERVICES  # noqa: E402
from services.registration.domain.reference import REFERENCE_DIR  # noqa: E402
from shared.catalog import find  # noqa: E402

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


ROUND = "2027"
BOARDS = ["vestland", "trondelag", "nordland", "agder"]
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
    """Vestland's window opens; the board applies for Bergen; programme management admits it."""
    board = {"Authorization": "Bearer local-board-vestland"}
    today = datetime.now(ZoneInfo("Europe/Oslo")).date()
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
    steps = [
        (
            "application window for Vestland",
            "/application-windows",
            programme,
            {
                "round_id": ROUND,
                "county_number": "46",
                "opens_on": today.isoformat(),
                "deadline": (today + timedelta(days=60)).isoformat(),
            },
        ),
        (
            "Bergen's draft",
            "/application-drafts",
            board,
            {
                "round_id": ROUND,
                "municipality_number": "4601",
                "motivation": "Kulturskolen skal vere ein utviklingsaktør i oppvekstfeltet.",
                "development_areas": ["medvirkning", "samskaping"],
                "co_creation_plan": "Felles plan med barnehage og grunnskule for mellomarbeidet.",
                "group": group,
            },
        ),
        (
            "Bergen's application",
            "/application-submissions",
            board,
            {"round_id": ROUND, "municipality_number": "4601"},
        ),
        (
            "Bergen admitted",
            "/decisions",
            programme,
            {
                "round_id": ROUND,
                "municipality_number": "4601",
                "decision": "admit",
                # The demo does not wait 60 days for Vestland's window to close.
                "early_reason": "Demo: decided before the window closes",
            },
        ),
    ]
    for what, path, headers, body in steps:
        response = client.post(path, json=body, headers=headers)
        print(f"[demo] {what}: {response.status_code}")
        if response.status_code not in (200, 201, 409):  # 409: done by an earlier run
            raise SystemExit(f"[demo] {what} refused: {response.text}")


def schedule_round(scheduling: str, programme: dict[str, str]) -> None:
    """Vestland's calendar: the pre-round with two presamlinger, the first semester with its
    two samlinger, on dates the service suggests (clear of holidays), and veiledning for
    Bergen. The pre-round runs from next week, so the demo's gatherings lie ahead whenever
    it runs (in a real round: October and November before the start)."""
    today = datetime.now(OSLO).date()
    pre_start = today + timedelta(days=7)
    semesters = {
        0: (pre_start, pre_start + timedelta(days=63)),
        1: (pre_start + timedelta(days=64), pre_start + timedelta(days=64 + 150)),
    }
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
        kinds = {0: ("presamling", "Presamling"), 1: ("samling", "Samling")}
        for number, (kind, title) in kinds.items():
            suggested = client.get(
                f"/rounds/{ROUND}/regions/vestland/date-suggestions",
                params={"semester": number, "count": 2, "weekdays": "tuesday,wednesday,thursday"},
            )
            suggested.raise_for_status()
            found = suggested.json()
            print(
                f"[demo] suggested {kind} dates {found['dates']}; "
                f"{len(found['passed_over'])} days passed over for holidays"
            )
            for index, day in enumerate(found["dates"], start=1):
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
                        "semester": number,
                        # The demo's pre-round runs from next week, whatever the month.
                        **(
                            {"override_reason": "Demo: the pre-round starts next week"}
                            if kind == "presamling"
                            else {}
                        ),
                    },
                )
                print(f"[demo] {title} {index} on {day}: {response.status_code}")
                if response.status_code not in (201, 409):  # 409: scheduled by an earlier run
                    raise SystemExit(f"[demo] scheduling refused: {response.text}")
        # Veiledning once scheduling has read Bergen's admission from registration's events.
        first_day = semesters[1][0] + timedelta(days=14)
        booking = {
            "gathering_id": str(uuid.uuid5(DEMO_NAMESPACE, f"{ROUND}:4601:veiledning:1")),
            "round_id": ROUND,
            "municipality_number": "4601",
            "supervisor_id": "veileder-1",
            "venue": {"name": "Teams", "digital_link": "https://teams.example/veiledning-bergen"},
            "starts_at": datetime.combine(first_day, clock_time(13), OSLO).isoformat(),
            "ends_at": datetime.combine(first_day, clock_time(14, 30), OSLO).isoformat(),
        }
        deadline = time.monotonic() + 30
        while True:
            response = client.post("/supervisions", json=booking)
            if response.status_code != 422 or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # waiting for the admission to arrive, bounded by the deadline
        print(f"[demo] veiledning for Bergen: {response.status_code}")
        print(
            f"[demo] Vestland's calendar: {scheduling}/feeds/regions/vestland.ics?token=local-observer"
        )


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
        opened = client.post(
            "/rounds",
            headers=programme | {"Idempotency-Key": "demo-round-2027"},
            json={
                "round_id": ROUND,
                "interest_deadline": "2027-01-15",
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
