"""Authentication use cases: login, refresh rotation, logout, password change, and
turning a bearer token into the request's principal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from auth.passwords import MAX_PASSWORD_LENGTH, PasswordHasher, check_password_policy
from auth.ports import IdentityUnitOfWork
from auth.rbac import Principal, aggregate
from auth.throttle import LoginThrottle
from auth.tokens import TokenCodec
from domain.clock import Clock, utc_now
from domain.errors import InvalidInput, Unauthenticated
from domain.users.model import User
from domain.validation import EMAIL_MAX_LENGTH

security_log = structlog.get_logger("security")

BAD_CREDENTIALS = "Invalid email or password."
BAD_REFRESH = "The refresh token is invalid, expired or revoked."
TOKEN_TYPE = "Bearer"  # noqa: S105


class RefreshTokenReused(Unauthenticated):
    """A spent refresh token came back: its family was revoked (a security event)."""


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or refresh hands the client: an access and a refresh token, for `user`."""

    access_token: str
    refresh_token: str
    expires_in: int
    user: User


class AuthService:
    """Authentication with its collaborators wired once by the composition root."""

    def __init__(
        self,
        *,
        codec: TokenCodec,
        hasher: PasswordHasher,
        throttle: LoginThrottle,
        clock: Clock = utc_now,
        prune_every: int = 100,
    ) -> None:
        self.codec = codec
        self.hasher = hasher
        self.throttle = throttle
        self.clock = clock
        self.prune_every = prune_every
        self._logins = 0

    async def _issue(
        self, uow: IdentityUnitOfWork, user_id: int, family_id: str, now: datetime
    ) -> tuple[str, str]:
        access = self.codec.issue_access(user_id, now=now)
        refresh = self.codec.new_refresh_token()
        await uow.identity.add_refresh_token(
            user_id=user_id,
            family_id=family_id,
            token_hash=self.codec.hash_refresh_token(refresh),
            issued_at=now,
            expires_at=now + timedelta(seconds=self.codec.config.refresh_ttl_seconds),
        )
        return access.token, refresh

    async def _tokens_for(self, uow: IdentityUnitOfWork, user_id: int, family_id: str) -> TokenPair:
        now = self.clock()
        access, refresh = await self._issue(uow, user_id, family_id, now)
        user = await uow.users.get(user_id)
        if user is None:  # pragma: no cover - the caller just read the user
            raise Unauthenticated(BAD_CREDENTIALS)
        return TokenPair(access, refresh, self.codec.config.access_ttl_seconds, user)

    async def login(
        self, uow: IdentityUnitOfWork, *, email: str, password: str, ip: str | None
    ) -> TokenPair:
        """Check the credentials and open a new token family; throttled per email and IP."""
        email = email.strip().lower()[: EMAIL_MAX_LENGTH + 1]
        attempt = await self.throttle.begin(email, ip)
        async with uow:
            # Control characters cannot be in a stored address; skip the query (PostgreSQL
            # refuses NUL bytes) and fail like any unknown user.
            lookup = email.isprintable()
            credentials = await uow.identity.credentials_by_email(email) if lookup else None
            # An over-long password is never hashed; an unknown user costs a dummy verify.
            valid = len(password) <= MAX_PASSWORD_LENGTH and self.hasher.verify(
                password, credentials.password_hash if credentials else None
            )
            if credentials is None or not valid or not credentials.is_active:
                security_log.warning("login failed", email=email, ip=ip)
                raise Unauthenticated(BAD_CREDENTIALS)
            await self.throttle.passed(attempt)
            if credentials.password_hash and self.hasher.needs_rehash(credentials.password_hash):
                await uow.identity.set_password_hash(
                    credentials.user_id, self.hasher.hash(password)
                )
            tokens = await self._tokens_for(uow, credentials.user_id, str(uuid.uuid4()))
            await self._maybe_prune(uow)
            await uow.commit()
        return tokens

    async def _maybe_prune(self, uow: IdentityUnitOfWork) -> None:
        # Opportunistic cleanup: every N-th login also deletes expired token rows, so the
        # tables stay small even where nobody schedules `python -m auth.prune`.
        self._logins += 1
        if self._logins % self.prune_every == 0:
            await uow.identity.prune_expired(self.clock())

    async def refresh(self, uow: IdentityUnitOfWork, *, refresh_token: str) -> TokenPair:
        """Spend a refresh token for a new pair; a spent token presented again kills its family."""
        token_hash = self.codec.hash_refresh_token(refresh_token)
        async with uow:
            now = self.clock()
            spent = await uow.identity.spend_refresh_token(token_hash, now)
            if spent is None:
                if await self._on_unusable_refresh(uow, token_hash, now):
                    raise RefreshTokenReused(BAD_REFRESH)
                raise Unauthenticated(BAD_REFRESH)
            principal = await uow.identity.load_principal(spent.user_id, "")
            if principal is None or not principal.is_active:
                raise Unauthenticated(BAD_REFRESH)
            tokens = await self._tokens_for(uow, spent.user_id, spent.family_id)
            await uow.commit()
        return tokens

    async def _on_unusable_refresh(
        self, uow: IdentityUnitOfWork, token_hash: str, now: datetime
    ) -> bool:
        """Whether the token was a spent one presented again (then its family is revoked)."""
        found = await uow.identity.find_refresh_token(token_hash)
        if found is None or found.used_at is None:
            return False
        # Reuse of a spent token means it leaked: end the whole family, newer tokens too.
        revoked = await uow.identity.revoke_family(found.family_id, now)
        await uow.commit()
        security_log.warning(
            "refresh token reuse",
            user_id=found.user_id,
            family_id=found.family_id,
            revoked=revoked,
        )
        return True

    async def logout(
        self, uow: IdentityUnitOfWork, principal: Principal, *, refresh_token: str | None
    ) -> None:
        """Revoke the calling access token and, when given, that refresh token's family."""
        async with uow:
            if principal.token_jti is not None and principal.token_expires_at is not None:
                await uow.identity.revoke_access_token(
                    principal.token_jti, principal.token_expires_at
                )
            if refresh_token:
                found = await uow.identity.find_refresh_token(
                    self.codec.hash_refresh_token(refresh_token)
                )
                if found is not None and found.user_id == principal.user_id:
                    await uow.identity.revoke_family(found.family_id, self.clock())
            await uow.commit()

    async def change_password(
        self,
        uow: IdentityUnitOfWork,
        principal: Principal,
        *,
        current_password: str,
        new_password: str,
        ip: str | None = None,
    ) -> None:
        """Replace the password and revoke every token issued before the change."""
        check_password_policy(new_password, field="new_password")
        # Guessing the current password with a stolen access token is throttled like login.
        attempt = await self.throttle.begin(principal.email, ip)
        async with uow:
            credentials = await uow.identity.credentials_by_email(principal.email)
            if credentials is None or not self.hasher.verify(
                current_password, credentials.password_hash
            ):
                raise InvalidInput(
                    "The current password is wrong.", fields={"current_password": "is wrong"}
                )
            await self.throttle.passed(attempt)
            await uow.identity.set_password_hash(principal.user_id, self.hasher.hash(new_password))
            await uow.identity.invalidate_tokens([principal.user_id], self.clock())
            await uow.commit()

    async def authenticate(self, uow: IdentityUnitOfWork, token: str) -> Principal:
        """The principal of a bearer token: valid, not revoked, and its user still active."""
        claims = self.codec.decode_access(token)
        record = await uow.identity.load_principal(claims.user_id, claims.jti)
        if (
            record is None
            or not record.is_active
            or record.is_token_revoked
            or (
                record.tokens_valid_after is not None
                and claims.issued_at < record.tokens_valid_after
            )
        ):
            raise Unauthenticated("The access token is invalid or expired.")
        return Principal(
            user_id=record.user_id,
            email=record.email,
            is_superuser=record.is_superuser,
            permissions=aggregate(record.grants),
            token_jti=claims.jti,
            token_expires_at=claims.expires_at,
        )
