"""The cross-cutting features an app is built with: all on, always, in the product.

Only code can switch one off (there is no setting for it), and only the benchmark does, to
measure what each feature costs against the same app without it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Features:
    """Which cross-cutting features `create_app` wires in."""

    # Module permission checks on fields; off means every field is open to any caller.
    rbac: bool = True
    # Change capture (session hooks) and the access log (middleware and extension).
    audit: bool = True
    # Depth, alias, token, size, directive and cost limits, and the rate limits.
    limits: bool = True
    # Central error mapping: codes, request ids, masked unexpected errors.
    masking: bool = True
    # Batched loaders and prefetching; off answers each parent with its own statements (N+1).
    batching: bool = True

    @classmethod
    def all_off(cls) -> Features:
        """RBAC, audit, limits and masking off; batching stays on."""
        return cls(rbac=False, audit=False, limits=False, masking=False)
