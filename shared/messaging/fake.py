"""The bus's unit of work in memory, for handler tests that run without a database.

It has what a handler uses of `shared.messaging.bus.UnitOfWork`: the envelope the message
came in (`caused_by`) and `emit`; what was emitted is kept in order, by topic, for the test
to read. Each service's own fake repositories sit beside it in `services/<svc>/adapters/fake.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.contracts.events.base import Contract
from shared.messaging.envelope import Envelope


@dataclass
class FakeUnitOfWork:
    caused_by: Envelope
    emitted: list[tuple[str, Contract]] = field(default_factory=list)
    conn: Any = None

    async def emit(self, topic: str, contract: Contract, *, subject: str | None = None) -> None:
        self.emitted.append((topic, contract))

    def events(self, topic: str) -> list[Contract]:
        return [c for t, c in self.emitted if t == topic]
