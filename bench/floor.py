"""`python -m bench.floor`: what a command and a mail cost in CPU before any I/O, beside what
the bare sender's SMTP dialogue costs, to set the ratio targets against the machine's cores.

Each figure is one process's CPU time (`time.process_time`) per item, the least of three runs:

- **command**: what registration does in Python with each `RegisterInterest` whatever the
  database and the broker answer: read the CloudEvent from its Kafka headers and validate the
  command; check its branch and municipalities against the reference data; build the two events
  (`interest-registered`, `contact-details`), wrap each in its envelope and write its outbox
  row; and the relay's reading of each row's headers back;
- **mail**: what notification does with each mail the same way: plan the event's two mails
  (their context as JSON, as stored), read a claimed mail's context back, write the mail
  (templates, MIME) and the notification-sent event with its outbox row;
- **bare sender**: the benchmark's bare aiosmtplib sender against Postfix's `smtp-sink`, its
  process's CPU time over the mails it sent (the SMTP dialogue and nothing else).

No database or broker is needed; the bare sender needs `smtp-sink` (installed like `make bench`
does when it is missing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import timeit
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from bench.bare import SENDER_POOL, Headers, Message, bare_sender
from bench.load import Workload, prepare_commands
from bench.smtp import SmtpSink, ensure_smtp_sink
from services.notification.adapters.mailer import _event, build_mail
from services.notification.adapters.repository import Claimed
from services.notification.domain.messages import Places, mails_for_interest_registered
from services.notification.settings import NotificationSettings
from services.notification.templates import Templates
from services.registration.domain.interest import scope_of_interest
from services.registration.domain.reference import ReferenceData
from services.registration.handlers.context import contact_details
from shared.contracts.events.registration import InterestRegistered, RegisterInterest
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import OutboxRow

REPEATS = 3


def per_item(work: Callable[[], object], number: int) -> float:
    """Seconds of CPU per call of `work`, the least of `REPEATS` runs of `number` calls."""
    return min(timeit.repeat(work, number=number, repeat=REPEATS, timer=time.process_time)) / number


def command_step(reference: ReferenceData) -> Callable[[Headers, bytes], list[Message]]:
    """A command's Python work on one record (its headers and value): the messages it
    causes (`interest-registered` and `contact-details`), as the relay would produce them."""
    accepted = [RegisterInterest.TYPE]

    def step(headers: Headers, value: bytes) -> list[Message]:
        envelope = Envelope.from_kafka(headers, value)
        command = envelope.decode(accepted)
        assert isinstance(command, RegisterInterest)
        members = set(command.municipality_numbers)
        scope = scope_of_interest(
            reference,
            branch=command.branch,
            municipality_numbers=command.municipality_numbers,
            members=members,
        )
        person_id = uuid.uuid4()
        event = InterestRegistered(
            registration_id=uuid.uuid4(),
            round_id=command.round_id,
            branch_id=scope.branch.id,
            branch_name=scope.branch.name,
            county_numbers=list(scope.branch.county_numbers),
            municipality_numbers=list(scope.municipality_numbers),
            contact_person_id=person_id,
            message=command.message,
            registered_at=datetime.now(UTC),
        )
        contact = contact_details(person_id, command.contact)
        rows = []
        for contract in (event, contact):
            wrapped = Envelope.wrap(
                contract, source="/registration", subject=contract.key(), caused_by=envelope
            )
            rows.append(OutboxRow.of("events", contract.key(), wrapped))
        return [  # the relay: the row's headers back for the producer
            (
                None if row.key is None else row.key.encode(),
                row.payload,
                [(name, text.encode()) for name, text in json.loads(row.headers)],
            )
            for row in rows
        ]

    return step


def command_work(count: int) -> Callable[[], object]:
    """One command's Python work, round the `count` prepared commands."""
    reference = ReferenceData.load()
    workload = Workload.build(count, reference)
    records = [(env.headers(), env.data) for _, env in prepare_commands(workload, "floor")]
    step = command_step(reference)
    at = iter(range(sys.maxsize))

    def one() -> list[Message]:
        headers, value = records[next(at) % len(records)]
        return step(headers, value)

    return one


def mail_work() -> Callable[[], object]:
    """One mail's Python work: half of an event's planning, a claimed mail built and its
    event written."""
    # No database is used; the setting is required, so it names none that exists.
    settings = NotificationSettings(database_url="postgresql://unused@127.0.0.1:1/unused")
    templates = Templates()
    places = Places(ReferenceData.load())
    event = InterestRegistered(
        registration_id=uuid.uuid4(),
        round_id="2028",
        branch_id="rogaland",
        branch_name="Rogaland",
        county_numbers=["11"],
        municipality_numbers=["1101", "1103"],
        contact_person_id=uuid.uuid4(),
        message="Styret vil delta.",
        registered_at=datetime.now(UTC),
    )
    planned = mails_for_interest_registered(
        event, programme_mailbox=settings.programme_mailbox, places=places
    )
    stored = [json.dumps(mail.context) for mail in planned]
    at = iter(range(sys.maxsize))

    def one() -> OutboxRow:
        i = next(at)
        if i % 2 == 0:  # an event plans two mails: half of it per mail
            for mail in mails_for_interest_registered(
                event, programme_mailbox=settings.programme_mailbox, places=places
            ):
                json.dumps(mail.context)
        mail = planned[i % 2]
        claimed = Claimed(
            id=uuid.uuid4(),
            event_id=str(uuid.uuid4()),
            template=mail.template,
            context=json.loads(stored[i % 2]),
            attempts=0,
            address=mail.address or "styret@example.no",
            language="nb",
            recipient_name="" if mail.address else "Kari Nordmann",
            recipient_kind=mail.recipient_key.split(":", 1)[0],
            person_id=uuid.UUID(mail.person_id) if mail.person_id else None,
            supervisor_id=None,
            reply_to_name="Kari Nordmann" if mail.reply_to_person_id else None,
            reply_to_email="styret@example.no" if mail.reply_to_person_id else None,
        )
        build_mail(settings, claimed, templates)
        topic, envelope = _event(claimed, settings.topic_prefix)
        return OutboxRow.of(topic, envelope.subject, envelope)

    return one


async def sender_cost(mails: int, connections: int) -> tuple[float, float]:
    """The bare sender against a fresh `smtp-sink`: (mails/s, CPU seconds per mail). The
    CPU per mail is the difference between a run of `mails` and one of `SENDER_POOL`, so that
    what both pay once (writing the mails to bytes, connecting) is left out."""
    sink = SmtpSink(await asyncio.to_thread(ensure_smtp_sink))
    sink.start()
    try:
        runs = []
        for count in (SENDER_POOL, mails):
            cpu = time.process_time()
            done = await bare_sender(
                sink.host, sink.port, count, connections=connections, timeout_s=600
            )
            runs.append((done, time.process_time() - cpu))
    finally:
        sink.stop()
    (small, small_cpu), (large, large_cpu) = runs
    return large.per_second, (large_cpu - small_cpu) / (large.messages - small.messages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--items", type=int, default=20_000, help="calls per timed run")
    parser.add_argument(
        "--mails", type=int, default=20_000, help=f"mails the bare sender sends (> {SENDER_POOL})"
    )
    parser.add_argument("--connections", type=int, default=10, help="the bare sender's")
    parser.add_argument(
        "--bare-chain",
        default="16000,32000",
        help="batched bare chain rates to set registration's 25 %% against, messages/s "
        "(default: the range `make bench` measures on the project's machines)",
    )
    args = parser.parse_args(argv)

    command = per_item(command_work(2_000), args.items)
    mail = per_item(mail_work(), args.items)
    rate, smtp = asyncio.run(sender_cost(args.mails, args.connections))
    print(f"command, Python before any I/O:  {command * 1e6:7.1f} µs CPU")
    print(f"mail, Python before any I/O:     {mail * 1e6:7.1f} µs CPU")
    print(
        f"bare sender ({args.connections} connections):   {smtp * 1e6:7.1f} µs CPU per mail, "
        f"{rate:,.0f} mails/s, {rate * smtp:.0%} of a core"
    )
    mail_target = 0.7 * rate
    print(
        f"the mail stage at 70 % of it ({mail_target:,.0f} mails/s) needs "
        f"{mail_target * (smtp + mail):.0%} of a core for the dialogue and this work alone"
    )
    for chain in (int(rate.strip()) for rate in args.bare_chain.split(",")):
        target = chain / 4
        print(
            f"registration at {target:,.0f} commands/s (25 % of a bare chain of {chain:,}/s) "
            f"needs {target * command:.0%} of a core for this work alone"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
