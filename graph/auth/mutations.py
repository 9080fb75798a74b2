"""Authentication mutations; `login` and `refreshToken` are the only anonymous fields."""

from __future__ import annotations

import strawberry

from auth.service import RefreshTokenReused
from domain.cleaning import clean_text
from domain.errors import DomainError
from graph.access_log import note
from graph.auth.types import AuthPayload, auth_payload
from graph.context import Info, context_of
from graph.permissions import IsAuthenticated, guard, principal_of


@strawberry.type
class AuthMutations:
    """Sessions."""

    @strawberry.mutation
    async def login(self, info: Info, email: str, password: str) -> AuthPayload:
        """Exchange credentials for tokens; throttled per email and per client IP."""
        ctx = context_of(info)
        try:
            tokens = await ctx.services.auth.login(
                ctx.uow, email=email, password=password, ip=ctx.client_ip
            )
        except DomainError:
            # Auditors see which account was tried; the password is never recorded.
            if ctx.request is not None:
                note(ctx.request.scope, loginEmail=clean_text(email.strip().lower()))
            raise
        ctx.session_user_id = tokens.user.id
        return auth_payload(tokens)

    @strawberry.mutation(
        description=(
            "Rotates: the presented refresh token is spent; "
            "presenting it again revokes its whole family."
        )
    )
    async def refresh_token(self, info: Info, refresh_token: str) -> AuthPayload:
        ctx = context_of(info)
        try:
            tokens = await ctx.services.auth.refresh(ctx.uow, refresh_token=refresh_token)
        except RefreshTokenReused:
            if ctx.request is not None:
                note(ctx.request.scope, securityEvent="refresh_token_reuse")
            raise
        ctx.session_user_id = tokens.user.id
        return auth_payload(tokens)

    @strawberry.mutation(
        extensions=guard(IsAuthenticated()),
        description=(
            "Revokes the calling access token and, when given, that refresh token's family."
        ),
    )
    async def logout(self, info: Info, refresh_token: str | None = None) -> bool:
        ctx = context_of(info)
        await ctx.services.auth.logout(ctx.uow, principal_of(info), refresh_token=refresh_token)
        return True

    @strawberry.mutation(
        extensions=guard(IsAuthenticated()),
        description="Revokes every token issued to the caller before the change.",
    )
    async def change_password(self, info: Info, current_password: str, new_password: str) -> bool:
        ctx = context_of(info)
        await ctx.services.auth.change_password(
            ctx.uow,
            principal_of(info),
            current_password=current_password,
            new_password=new_password,
            ip=ctx.client_ip,
        )
        return True
