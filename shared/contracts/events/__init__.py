"""Public contracts. Importing this package registers every published message type."""

from shared.contracts.events import notification, registration, scheduling
from shared.contracts.events.base import REGISTRY, Command, Contract, Event

__all__ = ["REGISTRY", "Command", "Contract", "Event", "notification", "registration", "scheduling"]
