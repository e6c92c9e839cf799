"""Command handlers, one module per aggregate: load -> decide (pure domain) -> save and emit.

Every handler runs in the transaction `MessageBus.handle` opened: state, inbox row and
outgoing events commit together or not at all. A rule that says no raises a domain error,
so nothing of the command is stored; the command registry's `refusal`
(`shared.runtime.problems`) turns it into a problem (over HTTP a 4xx, from Kafka a dead
letter, with the reason), once, at the edge.
"""

from services.registration.handlers.context import Context

__all__ = ["Context"]
