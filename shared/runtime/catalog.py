"""How a service declares itself to the tools that run several: the local stack, the test
fixtures, the contracts export.

Each service's composition root holds one `ServiceDeclaration` (its name, settings class,
spec factory, the topics it owns, what a local run needs); a catalog outside `shared/` lists
the declarations, and the tools take that list as an argument. This library names no service.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from shared.contracts.topics import DEFAULT_PREFIX, TopicSpec, unique
from shared.runtime.settings import ServiceSettings

if TYPE_CHECKING:
    from shared.runtime.spec import ServiceSpec

S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class LocalInfra:
    """What a local or test run offers a service besides Kafka and its database."""

    smtp_host: str
    smtp_port: int


def _no_env(_: LocalInfra) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class ServiceDeclaration(Generic[S]):
    name: str
    module: str  # runs the process: `python -m <module>`
    settings: type[S]
    spec: Callable[[S], ServiceSpec]
    # The topics it owns (publishes to or takes commands on), for a topic prefix.
    topics: Callable[[str], Sequence[TopicSpec]]
    # Settings of a local or test run that the generic ones (Kafka, database, port) do not
    # cover, as environment variables: tokens for local callers, the SMTP sink, …
    local_env: Callable[[LocalInfra], Mapping[str, str]] = field(default=_no_env)

    @property
    def env_prefix(self) -> str:
        """Where its settings come from, e.g. `KS_<NAME>_`."""
        return str(self.settings.model_config.get("env_prefix", ""))

    def env(self, **values: object) -> dict[str, str]:
        """Environment variables for its settings: `env(http_port=8001)`."""
        known = self.settings.model_fields
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"{self.name}: no such settings: {unknown}")
        return {f"{self.env_prefix}{key}".upper(): str(value) for key, value in values.items()}

    def default_settings(self) -> S:
        """Its settings from the class defaults alone (no environment, no .env file)."""
        # The pydantic plugin types `model_construct` on the base class, not on `S`.
        return cast(S, self.settings.model_construct())

    def default(self, setting: str) -> Any:
        return self.settings.model_fields[setting].default


Catalog = Sequence[ServiceDeclaration[Any]]


def names(services: Catalog) -> list[str]:
    return [service.name for service in services]


def find(services: Catalog, name: str) -> ServiceDeclaration[Any]:
    for service in services:
        if service.name == name:
            return service
    raise LookupError(f"no service {name!r} in the catalog: {names(services)}")


def topic_specs(
    services: Iterable[ServiceDeclaration[Any]], prefix: str = DEFAULT_PREFIX
) -> list[TopicSpec]:
    """Every topic the services own, each once."""
    return unique(spec for service in services for spec in service.topics(prefix))


def load(module: str, attribute: str = "SERVICES") -> Catalog:
    """The catalog a module lists, e.g. `load("<package>.catalog")` for a command line."""
    found = getattr(importlib.import_module(module), attribute, None)
    if not isinstance(found, Sequence) or not all(
        isinstance(service, ServiceDeclaration) for service in found
    ):
        raise LookupError(f"{module}.{attribute} is not a sequence of ServiceDeclaration")
    return found
