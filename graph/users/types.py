"""User GraphQL types."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.users.model import User
from graph.relay import Node, encode_global_id

TYPE_NAME = "User"


@strawberry.type(name="User")
class UserType(Node):
    """A person who uses the API and can be assigned tasks."""

    id: strawberry.ID
    email: str
    full_name: str | None
    is_active: bool
    is_superuser: bool
    created_at: datetime
    pk: strawberry.Private[int]


def user_node(user: User) -> UserType:
    """Map a domain user to its GraphQL type."""
    return UserType(
        id=encode_global_id(TYPE_NAME, user.id),
        email=user.email,
        full_name=user.full_name,
        is_active=user.is_active,
        is_superuser=user.is_superuser,
        created_at=user.created_at,
        pk=user.id,
    )
