"""Password policy and argon2id hashing through passlib (the maintained `libpass`)."""

from __future__ import annotations

import re
from typing import Final

from passlib.context import CryptContext

from domain.errors import InvalidInput

MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 128
# OWASP's argon2id floor: 19 MiB of memory, two passes, one lane.
MEMORY_COST_KIB: Final = 19 * 1024
TIME_COST: Final = 2
PARALLELISM: Final = 1


# C0 and C1 control characters. Spaces of every kind stay allowed (passphrases).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_password_policy(password: str, *, field: str = "password") -> None:
    """Refuse a password outside 12-128 characters, or with a control character (nobody can
    type one, and some clients and hashers cut at NUL), before any hashing work is spent."""
    if len(password) < MIN_PASSWORD_LENGTH:
        reason = f"must be at least {MIN_PASSWORD_LENGTH} characters"
    elif len(password) > MAX_PASSWORD_LENGTH:
        reason = f"must be at most {MAX_PASSWORD_LENGTH} characters"
    elif _CONTROL.search(password):
        reason = "must not contain control characters"
    else:
        return
    raise InvalidInput("The password does not meet the policy.", fields={field: reason})


class PasswordHasher:
    """Hashes and verifies passwords; tells when a stored hash needs the current parameters."""

    def __init__(
        self,
        *,
        memory_cost: int = MEMORY_COST_KIB,
        time_cost: int = TIME_COST,
        parallelism: int = PARALLELISM,
    ) -> None:
        self._context = CryptContext(
            schemes=["argon2"],
            argon2__type="ID",
            argon2__memory_cost=memory_cost,
            argon2__time_cost=time_cost,
            argon2__parallelism=parallelism,
        )
        # Verified for unknown users, so a login takes as long whether the user exists or not.
        # Made on first need: building an app should not pay for a hash.
        self._dummy: str | None = None

    @property
    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = str(self._context.hash("dummy-password-for-timing"))
        return self._dummy

    def hash(self, password: str) -> str:
        """A salted argon2id hash of `password`."""
        return str(self._context.hash(password))

    def verify(self, password: str, password_hash: str | None) -> bool:
        """Whether `password` matches; with no stored hash, spend the same time and say no."""
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        if not password_hash:
            self._context.verify(password, self._dummy_hash)
            return False
        try:
            return bool(self._context.verify(password, password_hash))
        except (ValueError, TypeError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with outdated parameters."""
        return bool(self._context.needs_update(password_hash))
