"""The services of this platform, for the tools that run or describe them all.

The local stack, the test fixtures and the contracts export take this list; each entry is
the declaration in that service's composition root (`services/<name>/app.py`).
"""

from __future__ import annotations

from services.notification.app import SERVICE as NOTIFICATION
from services.registration.app import SERVICE as REGISTRATION
from services.scheduling.app import SERVICE as SCHEDULING
from shared.runtime.catalog import Catalog

SERVICES: Catalog = (REGISTRATION, SCHEDULING, NOTIFICATION)
