"""Public contracts. Importing this package registers every published message type."""

from shared.events import registration, scheduling
from shared.events.base import REGISTRY, Command, Contract, Event

__all__ = ["REGISTRY", "Command", "Contract", "Event", "registration", "scheduling"]
