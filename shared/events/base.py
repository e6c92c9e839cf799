"""Base of every public contract: frozen pydantic models with a versioned CloudEvents type.

A model's `TYPE` is its `ce_type`, e.g. `no.kulturskoleradet.registration.interest-registered.v1`.
A published version never changes incompatibly: a breaking change is a new class with `.v2`.
"""

from __future__ import annotations

from typing import ClassVar, Unpack

from pydantic import BaseModel, ConfigDict

TYPE_PREFIX = "no.kulturskoleradet"

REGISTRY: dict[str, type[Contract]] = {}


class Contract(BaseModel):
    """Data of one message (event or command); registered by its `TYPE`."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    TYPE: ClassVar[str]
    # Which service's topic carries it; used for docs and the AsyncAPI channels.
    SERVICE: ClassVar[str]
    KIND: ClassVar[str]  # "event" or "command"

    def __init_subclass__(cls, **kwargs: Unpack[ConfigDict]) -> None:
        super().__init_subclass__(**kwargs)
        type_ = cls.__dict__.get("TYPE")
        if type_ is None:
            return
        version = type_.rsplit(".", 1)[-1]
        if (
            not type_.startswith(f"{TYPE_PREFIX}.")
            or not version[1:].isdigit()
            or version[0] != "v"
        ):
            raise TypeError(f"{cls.__name__}.TYPE must be {TYPE_PREFIX}.<...>.vN: {type_}")
        if type_ in REGISTRY and REGISTRY[type_] is not cls:
            raise TypeError(f"two contracts claim {type_}: {REGISTRY[type_]} and {cls}")
        REGISTRY[type_] = cls

    def key(self) -> str:
        """The Kafka key: the aggregate id, so one aggregate's messages stay in order."""
        raise NotImplementedError


class Event(Contract):
    KIND: ClassVar[str] = "event"


class Command(Contract):
    KIND: ClassVar[str] = "command"
