"""Reference data: counties, municipalities and branches, from the shared reference package.

The data is public and read by more than one service, so it lives in `shared.reference`.
"""

from shared.reference import REFERENCE_DIR, Branch, Municipality, ReferenceData, slug

__all__ = ["REFERENCE_DIR", "Branch", "Municipality", "ReferenceData", "slug"]
