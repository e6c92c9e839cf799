"""The deploy files against the service catalog (part of `make deploy-check`).

    python deploy/check_deploy_config.py docker-compose.yml RENDERED_CHART.yaml ...

Checks that the compose file and the chart run exactly the services of `services/catalog.py`,
each with its own command; that every `KS_*` variable they set is a setting the service
declares (a misspelt name would be ignored silently: pydantic-settings drops unknown
variables); and that compose gives each service the settings a local run gives it (local
tokens, fast mail polling), so `docker compose up` behaves like `make up`. Also: a service
is given no other service's settings (its database login is its own), no chart ConfigMap
holds a secret, the ServiceMonitors select the chart's Services (no Kubernetes schema knows
that CRD), and the image's HEALTHCHECK knows each service's port.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.catalog import SERVICES  # noqa: E402
from services.web.settings import WebSettings  # noqa: E402
from shared.messaging.kafka_client import KafkaClientSettings  # noqa: E402
from shared.runtime.catalog import LocalInfra, ServiceDeclaration  # noqa: E402

# The set-up job's own settings (deploy/setup.py).
SETUP_SETTINGS = {"KS_SETUP_PG_SUPERUSER_DSN", "KS_SETUP_SERVICES", "KS_SETUP_TIMEOUT_S"} | {
    # The administrator's Kafka connection (deploy/setup.py, SetupKafkaSettings).
    f"KS_SETUP_{name.upper()}"
    for name in KafkaClientSettings.model_fields
}
# Settings a deployment must give a service that declares them, besides those without a
# default: without API tokens every HTTP command is refused.
MUST_SET = {"api_tokens"}


WEB_PREFIX = "KS_WEB_"


def missing_settings(
    where: str, service: ServiceDeclaration[Any], names: set[str]
) -> Iterator[str]:
    fields = service.settings.model_fields
    for field, info in fields.items():
        if info.is_required() or field in MUST_SET:
            name = f"{service.env_prefix}{field}".upper()
            if name not in names:
                yield f"{where}: {service.name} is not given {name}"


def unknown_settings(where: str, names: Iterable[str]) -> Iterator[str]:
    for name in names:
        if not name.startswith("KS_") or name in SETUP_SETTINGS:
            continue
        if name.startswith(WEB_PREFIX):
            # The web front is no Kafka service of the catalog; its own settings class.
            if name[len(WEB_PREFIX) :].lower() not in WebSettings.model_fields:
                yield f"{where}: {name} is not a setting of the web front"
            continue
        owner = next((s for s in SERVICES if name.startswith(s.env_prefix.upper())), None)
        if owner is None:
            yield f"{where}: {name} belongs to no service"
            continue
        try:
            owner.env(**{name[len(owner.env_prefix) :].lower(): ""})
        except ValueError:
            yield f"{where}: {name} is not a setting of {owner.name}"


def same_setting(key: str, have: str, wanted: str) -> bool:
    if not key.endswith("_TOKENS"):
        return have == wanted
    try:  # JSON: compared as data, so the compose file may lay it out for reading
        return bool(json.loads(have) == json.loads(wanted))
    except ValueError:
        return False


def check_compose(compose: Mapping[str, Any]) -> Iterator[str]:
    services = compose["services"]
    for service in SERVICES:
        found = services.get(service.name)
        if found is None:
            yield f"compose: no service {service.name}"
            continue
        if found.get("command") != ["python", "-m", service.module]:
            yield f"compose {service.name}: command is not python -m {service.module}"
        env = {k: str(v) for k, v in (found.get("environment") or {}).items()}
        yield from missing_settings("compose", service, set(env))
        local = service.local_env(LocalInfra(smtp_host="mailpit", smtp_port=1025))
        for key, wanted in local.items():
            if not same_setting(key, env.get(key, ""), wanted):
                yield f"compose {service.name}: {key} differs from a local run's ({wanted[:60]})"
    for name, found in services.items():
        yield from unknown_settings(f"compose {name}", (found.get("environment") or {}).keys())
        if name in catalog_names():
            yield from foreign_settings(f"compose {name}", name, (found.get("environment") or {}))


def catalog_names() -> set[str]:
    return {s.name for s in SERVICES}


def foreign_settings(where: str, service: str, names: Iterable[str]) -> Iterator[str]:
    """A service sees only its own settings: another's database login is not its to hold."""
    for name in names:
        for other in SERVICES:
            if other.name != service and name.startswith(other.env_prefix.upper()):
                yield f"{where}: is given {name}, a setting of {other.name}"


# Keys that hold a secret: they belong in a Secret, never in a ConfigMap.
SECRET_KEYS = ("PASSWORD", "SECRET", "TOKENS", "DATABASE_URL", "DSN")


def container_env_names(doc: Mapping[str, Any]) -> Iterator[str]:
    spec = doc.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    for container in pod.get("containers", []):
        for var in container.get("env", []):
            yield var["name"]


def check_chart(path: Path) -> Iterator[str]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    deployments = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in docs
        if d["kind"] == "Deployment"
    }
    catalog = {s.name: s for s in SERVICES}
    # What the Deployments take whole (envFrom) from the chart's ConfigMap.
    config_keys = {
        key
        for d in docs
        if d["kind"] == "ConfigMap" and "helm.sh/hook" not in d["metadata"].get("annotations", {})
        for key in d.get("data") or {}
    }
    for name, deployment in deployments.items():
        if name == "web":
            # The web front is not a catalog service: its command, and its settings only.
            command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
            if command != ["python", "-m", "services.web"]:
                yield f"chart ({path.name}): web runs {command}"
            continue
        if name not in catalog:
            yield f"chart ({path.name}): Deployment {name} is not in the catalog"
            continue
        command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
        if command != ["python", "-m", catalog[name].module]:
            yield f"chart ({path.name}): {name} runs {command}"
        given = set(container_env_names(deployment)) | config_keys
        yield from missing_settings(f"chart ({path.name})", catalog[name], given)
    services = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in docs
        if d["kind"] == "Service"
    }
    for doc in docs:
        where = f"chart ({path.name}) {doc['kind']} {doc['metadata']['name']}"
        if doc["kind"] == "ConfigMap":
            for key in doc.get("data") or {}:
                # A *_FILE names where a mounted Secret is; that is no secret.
                if not key.endswith("_FILE") and any(w in key.upper() for w in SECRET_KEYS):
                    yield f"{where}: {key} is a secret in a ConfigMap"
        if doc["kind"] == "Deployment":
            name = doc["metadata"]["labels"]["app.kubernetes.io/component"]
            yield from foreign_settings(where, name, container_env_names(doc))
        if doc["kind"] == "ServiceMonitor":
            # kubernetes-validate knows no CRDs: what a scrape needs, checked here.
            selector = doc["spec"]["selector"]["matchLabels"]
            target = services.get(selector.get("app.kubernetes.io/component", ""))
            if target is None or any(
                target["metadata"]["labels"].get(k) != v for k, v in selector.items()
            ):
                yield f"{where}: its selector matches no Service of the chart"
            elif [e.get("port") for e in doc["spec"]["endpoints"]] != ["http"]:
                yield f"{where}: does not scrape the Service's http port"
        if doc["kind"] in ("ConfigMap", "Secret"):
            yield from unknown_settings(where, (doc.get("data") or {}).keys())
        yield from unknown_settings(where, container_env_names(doc))


def check_healthcheck() -> Iterator[str]:
    """The image's HEALTHCHECK knows each service's default port without importing it."""
    sys.path.insert(0, str(ROOT / "deploy"))
    from healthcheck import DEFAULT_PORTS

    from services.web.settings import WebSettings

    wanted = {s.name: s.settings.model_fields["http_port"].default for s in SERVICES}
    # The web front is no Kafka service, so not in the catalog; it runs from the same image.
    wanted["web"] = WebSettings.model_fields["http_port"].default
    if DEFAULT_PORTS != wanted:
        yield f"deploy/healthcheck.py: DEFAULT_PORTS is {DEFAULT_PORTS}, the catalog's {wanted}"


def main(argv: list[str]) -> int:
    compose, *charts = (Path(a) for a in argv)
    values = yaml.safe_load((ROOT / "deploy/helm/kulturskole/values.yaml").read_text())
    problems = list(check_compose(yaml.safe_load(compose.read_text())))
    problems += check_healthcheck()
    if sorted(values["services"]) != sorted(s.name for s in SERVICES):
        problems.append(f"chart values.yaml lists {sorted(values['services'])}, not the catalog")
    for chart in charts:
        problems += check_chart(chart)
    for problem in problems:
        print(f"deploy-check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
