"""User read use cases."""

from __future__ import annotations

from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork
from domain.users.model import User


async def list_users(uow: UnitOfWork, page: PageRequest) -> Page[User]:
    """A keyset page of users, by id."""
    return await uow.users.find_page(page)


async def count_users(uow: UnitOfWork) -> int:
    """How many users exist."""
    return await uow.users.count()
