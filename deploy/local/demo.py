"""Demo data: a few county branches register interest, as their boards would.

Safe to run again: each registration carries an Idempotency-Key, so a rerun changes nothing.
"""

from __future__ import annotations

import argparse
import time

import httpx

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registration", default="http://127.0.0.1:8001")
    parser.add_argument("--mail", default="http://127.0.0.1:8025")
    args = parser.parse_args()
    with httpx.Client(base_url=args.registration, timeout=10) as client:
        for number, (branch, municipalities, name, language, message) in enumerate(DEMO):
            body = {
                "round_id": "2024",
                "branch": branch,
                "municipality_numbers": municipalities,
                "contact": {
                    "name": name,
                    "email": f"styret.{branch.lower()[:6]}@example.no",
                    "language": language,
                },
                "message": message,
            }
            response = client.post(
                "/interest-registrations",
                json=body,
                # Header values are ASCII: key by the branch's position, not its name.
                headers={"Idempotency-Key": f"demo-2024-branch-{number}"},
            )
            print(f"[demo] {branch}: {response.status_code} {response.json()}")
            if response.status_code not in (201, 409):  # 409: registered by an earlier run
                raise SystemExit(f"[demo] registration refused the demo data: {response.text}")
    deadline = time.monotonic() + 30
    expected = len(DEMO)  # receipts; each also has a copy to the programme mailbox
    count = 0
    while time.monotonic() < deadline:
        count = len(httpx.get(f"{args.mail}/api/messages", params={"contains": "styret."}).json())
        if count >= expected:
            break
        time.sleep(0.5)  # polling the sink, bounded by the deadline
    print(f"[demo] {count} receipts (and as many programme copies) in the mail sink: {args.mail}/")


if __name__ == "__main__":
    main()
