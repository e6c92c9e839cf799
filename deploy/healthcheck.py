"""The image's HEALTHCHECK: is the service this container runs alive (`/healthz`)?

    python deploy/healthcheck.py

The image runs any of the services, the set-up or the CLI, so it asks what process 1 is: for
`python -m services.<name>` it calls that service's `/healthz` on its port
(`KS_<NAME>_HTTP_PORT`, else the service's default); anything else (the set-up job, a CLI
command) has nothing to serve and counts as healthy. Exit 0 healthy, 1 not. Standard library
only, and no import of the project: it runs every 30 s beside the service.
"""

from __future__ import annotations

import itertools
import os
import sys
import urllib.request
from pathlib import Path

# Each service's default HTTP port (its settings' `http_port`); deploy/check_deploy_config.py
# checks that these match the service catalog.
DEFAULT_PORTS = {"registration": 8001, "scheduling": 8002, "notification": 8003, "web": 8004}


def service_of(cmdline: list[str]) -> str | None:
    """`python -m services.<name>` -> name; anything else -> None."""
    for flag, module in itertools.pairwise(cmdline):
        if flag == "-m" and module.startswith("services."):
            name = module.removeprefix("services.")
            return name if name in DEFAULT_PORTS else None
    return None


def main(cmdline: list[str] | None = None) -> int:
    if cmdline is None:
        try:
            cmdline = Path("/proc/1/cmdline").read_bytes().decode().split("\0")
        except OSError:
            return 0
    service = service_of(cmdline)
    if service is None:
        return 0
    port = os.environ.get(f"KS_{service.upper()}_HTTP_PORT") or DEFAULT_PORTS[service]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:
            return 0 if answer.status == 200 else 1
    except OSError as error:
        print(f"{service}: /healthz on port {port}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
