"""JWT access tokens and opaque refresh tokens.

Decoding pins the algorithm list and requires every claim, so `alg: none`, algorithm
confusion (an HS256 token signed with an RS256 public key), a wrong audience or issuer,
a missing claim, a future `nbf` and a refresh token used as an access token all fail.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt

from domain.errors import Unauthenticated
from domain.pagination import MAX_ID

ACCESS_TYPE: Final = "access"
REQUIRED_CLAIMS: Final = ("sub", "exp", "iat", "nbf", "iss", "aud", "jti", "typ")
# ASCII digits only (str.isdigit() also accepts "²" and Arabic-Indic digits), within 32 bits.
_SUBJECT: Final = re.compile(r"[1-9][0-9]{0,9}")
MAX_JTI_LENGTH: Final = 64
# The ids this codec issues are UUID hex; a signed token is still checked before its `jti`
# reaches a query (PostgreSQL refuses NUL, and nothing else belongs in an id).
_JTI: Final = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_JTI_LENGTH}}}")
INVALID_TOKEN: Final = "The access token is invalid or expired."  # noqa: S105
# Seconds of clock difference allowed on `exp`, `nbf` and `iat`.
LEEWAY_SECONDS: Final = 5
# Checked tokens remembered, so a client's next request skips the signature check.
MAX_CHECKED_TOKENS: Final = 4096


@dataclass(frozen=True, slots=True)
class TokenConfig:
    """What signing and checking need; built from the settings by the composition root."""

    algorithm: str
    signing_key: str
    verifying_key: str
    issuer: str
    audience: str
    access_ttl_seconds: int
    refresh_ttl_seconds: int


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The checked claims of an access token."""

    user_id: int
    jti: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    """A signed access token and what the server must remember of it."""

    token: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class _Checked:
    """A token that passed every check once, with the times that bound its validity."""

    claims: AccessClaims
    not_before: float  # the later of `nbf` and `iat`, as PyJWT reads them (whole seconds)
    expires: float

    def is_current(self, now: float) -> bool:
        """Whether PyJWT's time checks (with the leeway) would pass at `now`."""
        return self.not_before <= now + LEEWAY_SECONDS and now - LEEWAY_SECONDS < self.expires


class TokenCodec:
    """Signs and checks access tokens; makes and hashes refresh tokens.

    A token that passed every check is remembered by its exact text (so by its signature),
    and its next use checks only the times: decoding and verifying a JWT costs more than
    the rest of a small request's authentication. Revocation is not the codec's concern:
    the caller still looks the token up on every request (`AuthService.authenticate`).
    """

    def __init__(
        self,
        config: TokenConfig,
        *,
        clock: Callable[[], float] = time.time,
        max_checked: int = MAX_CHECKED_TOKENS,
    ) -> None:
        self.config = config
        self.clock = clock
        self.max_checked = max_checked
        self._checked: dict[str, _Checked] = {}

    def issue_access(self, user_id: int, *, now: datetime | None = None) -> IssuedAccessToken:
        """A signed access token for `user_id`."""
        issued = now or datetime.now(UTC)
        expires = issued + timedelta(seconds=self.config.access_ttl_seconds)
        jti = uuid.uuid4().hex
        claims = {
            "sub": str(user_id),
            # Fractional seconds, so a token issued just after a revocation is not mistaken
            # for one issued before it within the same second.
            "iat": issued.timestamp(),
            "nbf": issued.timestamp(),
            "exp": expires,
            "iss": self.config.issuer,
            "aud": self.config.audience,
            "jti": jti,
            "typ": ACCESS_TYPE,
        }
        token = jwt.encode(claims, self.config.signing_key, algorithm=self.config.algorithm)
        return IssuedAccessToken(token=token, jti=jti, expires_at=expires)

    def decode_access(self, token: str) -> AccessClaims:
        """The claims of a valid access token; anything else is `Unauthenticated`."""
        checked = self._checked.get(token)
        if checked is not None:
            if checked.is_current(self.clock()):
                return checked.claims
            del self._checked[token]
            raise Unauthenticated(INVALID_TOKEN)
        claims, checked = self._decode(token)
        if len(self._checked) >= self.max_checked:
            del self._checked[next(iter(self._checked))]  # the oldest
        self._checked[token] = checked
        return claims

    def _decode(self, token: str) -> tuple[AccessClaims, _Checked]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.config.verifying_key,
                algorithms=[self.config.algorithm],
                audience=self.config.audience,
                issuer=self.config.issuer,
                options={"require": list(REQUIRED_CLAIMS)},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.PyJWTError:
            raise Unauthenticated(INVALID_TOKEN) from None
        subject = claims["sub"]
        if (
            claims["typ"] != ACCESS_TYPE
            or claims["iss"] != self.config.issuer
            or not isinstance(subject, str)
            or not _SUBJECT.fullmatch(subject)
            or int(subject) > MAX_ID
            or not isinstance(claims["jti"], str)
            or not _JTI.fullmatch(claims["jti"])
        ):
            raise Unauthenticated(INVALID_TOKEN)
        try:
            access = AccessClaims(
                user_id=int(subject),
                jti=claims["jti"],
                issued_at=datetime.fromtimestamp(claims["iat"], UTC),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        except (ValueError, OverflowError, OSError):
            # A far-future `exp` can pass PyJWT yet not fit in a datetime.
            raise Unauthenticated(INVALID_TOKEN) from None
        not_before = max(int(claims["nbf"]), int(claims["iat"]))
        return access, _Checked(access, not_before=not_before, expires=int(claims["exp"]))

    @staticmethod
    def new_refresh_token() -> str:
        """An opaque, unguessable refresh token (only its hash is ever stored)."""
        return secrets.token_urlsafe(32)

    @staticmethod
    def hash_refresh_token(token: str) -> str:
        """The stored form of a refresh token."""
        return hashlib.sha256(token.encode()).hexdigest()
