"""Authentication GraphQL types."""

from __future__ import annotations

import strawberry

from auth.service import TOKEN_TYPE, TokenPair
from graph.users.types import UserType, user_node


@strawberry.type
class AuthPayload:
    """A fresh token pair."""

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int = strawberry.field(description="Seconds until the access token expires.")
    user: UserType


def auth_payload(tokens: TokenPair) -> AuthPayload:
    """Map a token pair to its GraphQL type."""
    return AuthPayload(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_type=TOKEN_TYPE,
        expires_in=tokens.expires_in,
        user=user_node(tokens.user),
    )
