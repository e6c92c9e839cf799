"""Base of every public contract: frozen pydantic models with a versioned CloudEvents type.

A model's `TYPE` is its `ce_type`, e.g. `no.kulturskoleradet.registration.interest-registered.v1`.
A published version never changes incompatibly: a breaking change is a new class with `.v2`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

TYPE_PREFIX = "no.kulturskoleradet"

REGISTRY: dict[str, type[Contract]] = {}


# A request may be refused, so a command names what it does not know (extra="forbid"). A
# fact that was published is read tolerantly (extra="ignore"): a newer producer may add an
# optional property to a version, and a current consumer must still handle it.
STRICT = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
TOLERANT = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class Contract(BaseModel):
    """Data of one message (event or command); registered by its `TYPE`."""

    model_config = STRICT

    TYPE: ClassVar[str]
    # Which service's topic carries it; used for docs and the AsyncAPI channels.
    SERVICE: ClassVar[str]
    KIND: ClassVar[str]  # "event", "command" or "contact"
    # The topic that carries it, by its name within SERVICE: `<prefix>.<SERVICE>.<TOPIC>`.
    TOPIC: ClassVar[str]
    # The Kafka key is the aggregate id: the value of the property named by KEY, or FIXED_KEY
    # for an aggregate of which there is one (the membership list). Declared, not computed,
    # so the published documents can say what the key of each message is.
    KEY: ClassVar[str | None] = None
    FIXED_KEY: ClassVar[str | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Here, unlike in __init_subclass__, pydantic has collected the fields.
        super().__pydantic_init_subclass__(**kwargs)
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
        if not all(hasattr(cls, name) for name in ("SERVICE", "KIND", "TOPIC")):
            raise TypeError(f"{cls.__name__} must say its SERVICE, KIND and TOPIC")
        if (cls.KEY is None) == (cls.FIXED_KEY is None):
            raise TypeError(f"{cls.__name__} must declare one of KEY or FIXED_KEY")
        if cls.KEY is not None and cls.KEY not in cls.model_fields:
            raise TypeError(f"{cls.__name__}.KEY names no property: {cls.KEY!r}")
        REGISTRY[type_] = cls

    def key(self) -> str:
        """The Kafka key: the aggregate id, so one aggregate's messages stay in order."""
        if self.FIXED_KEY is not None:
            return self.FIXED_KEY
        if self.KEY is None:
            raise NotImplementedError(f"{type(self).__name__} declares no KEY")
        return str(getattr(self, self.KEY))


class Event(Contract):
    """A fact a service published; read tolerantly (unknown properties are ignored)."""

    model_config = TOLERANT
    KIND: ClassVar[str] = "event"
    TOPIC: ClassVar[str] = "events"


class Command(Contract):
    """A request to a service; strict, so an unknown property is refused by name."""

    KIND: ClassVar[str] = "command"
    TOPIC: ClassVar[str] = "commands"
