"""The accounts people log in with: the superuser, and demo roles each with a demo user.

Accounts are only ever added: an existing user (matched by email) or role (matched by
name, case-insensitively) is left exactly as it is, so a second run changes nothing and
never resets a password someone has changed since.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from audit.capture import set_actor
from auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, PasswordHasher
from auth.ports import IdentityUnitOfWork
from auth.rbac import WRITE_ACTIONS, Grant, Module
from config.settings import DEV_DEMO_PASSWORD, DEV_SUPERUSER_PASSWORD, Settings
from domain.validation import Violations
from seeds.loader import SEEDS_ACTOR

SUPERUSER_FULL_NAME: Final = "Superuser"
_ALL_WRITES: Final = frozenset(WRITE_ACTIONS)
_BUSINESS_MODULES: Final = (Module.PRODUCTS, Module.CUSTOMERS, Module.TASKS)


@dataclass(frozen=True, slots=True)
class DemoRole:
    """A demo role and the demo user who holds it."""

    name: str
    description: str
    grants: tuple[Grant, ...]
    user_email: str
    user_full_name: str


DEMO_ROLES: Final = (
    DemoRole(
        name="admin",
        description="Every module, with create, update and delete.",
        grants=tuple(Grant(module, _ALL_WRITES) for module in Module),
        user_email="admin.demo@example.com",
        user_full_name="Demo Admin",
    ),
    DemoRole(
        name="manager",
        description="Products, customers and tasks with every write; users read only.",
        grants=(
            *(Grant(module, _ALL_WRITES) for module in _BUSINESS_MODULES),
            Grant(Module.USERS),
        ),
        user_email="manager@example.com",
        user_full_name="Demo Manager",
    ),
    DemoRole(
        name="viewer",
        description="Products, customers and tasks, read only.",
        grants=tuple(Grant(module) for module in _BUSINESS_MODULES),
        user_email="viewer@example.com",
        user_full_name="Demo Viewer",
    ),
    DemoRole(
        name="auditor",
        description="The audit trail, read only.",
        grants=(Grant(Module.AUDIT),),
        user_email="auditor@example.com",
        user_full_name="Demo Auditor",
    ),
)


class SeedRefused(Exception):
    """The settings would seed unsafe or unusable accounts; nothing was written."""


@dataclass(frozen=True, slots=True)
class AccountSeed:
    """What to create: checked credentials; no demo password means no demo roles or users."""

    superuser_email: str
    superuser_password: str
    demo_password: str | None


@dataclass(frozen=True, slots=True)
class AccountsReport:
    """How many accounts one run added."""

    superusers: int = 0
    roles: int = 0
    demo_users: int = 0
    warnings: tuple[str, ...] = ()

    def summary(self, *, with_demo_users: bool = True) -> str:
        """A clause for the one-line summary."""
        superusers = f"{self.superusers} superuser{'' if self.superusers == 1 else 's'}"
        if not with_demo_users:
            return f"added {superusers} (demo roles and users skipped)"
        return f"added {superusers}, {self.roles} roles and {self.demo_users} demo login users"


def _check_password(variable: str, password: str, dev_default: str, settings: Settings) -> None:
    # Production must not hand out a password that is printed in this repository's README.
    if settings.is_production and password == dev_default:
        raise SeedRefused(
            f"{variable} is the development default; set your own when ENVIRONMENT=production."
        )
    # The password policy applies everywhere, as it does to `createUser`; a password over
    # the maximum could not even be used to log in.
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise SeedRefused(
            f"{variable} must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long."
        )


def plan_accounts(settings: Settings, *, with_demo_users: bool = True) -> AccountSeed:
    """The accounts the settings ask for, or `SeedRefused` naming the setting to fix.

    The demo password is checked only when demo users are seeded, so production can run
    `--no-demo-users` without inventing a password for accounts it never creates.
    """
    v = Violations()
    email = v.email("SEED_SUPERUSER_EMAIL", settings.seed_superuser_email)
    if v.fields:
        raise SeedRefused(f"SEED_SUPERUSER_EMAIL {v.fields['SEED_SUPERUSER_EMAIL']}.")
    superuser_password = settings.seed_superuser_password.get_secret_value()
    _check_password("SEED_SUPERUSER_PASSWORD", superuser_password, DEV_SUPERUSER_PASSWORD, settings)
    demo_password: str | None = None
    if with_demo_users:
        demo_password = settings.seed_demo_password.get_secret_value()
        _check_password("SEED_DEMO_PASSWORD", demo_password, DEV_DEMO_PASSWORD, settings)
    return AccountSeed(email, superuser_password, demo_password)


async def seed_accounts(
    uow: IdentityUnitOfWork, seed: AccountSeed, *, hasher: PasswordHasher
) -> AccountsReport:
    """Add the superuser, and the demo roles and users, that are missing; in one transaction.

    Goes through the identity repository (the ORM), like the admin mutations, so session
    hooks see these rows as they see every other change to users and roles, and record
    them as changes by "system:seeds".
    """
    warnings: list[str] = []
    # The port hides the session; a unit of work without one (a fake) records nothing.
    session = getattr(uow, "session", None)
    if session is not None:
        set_actor(session, actor_label=SEEDS_ACTOR)
    async with uow:
        superusers = await _ensure_superuser(uow, seed, hasher, warnings)
        roles = demo_users = 0
        if seed.demo_password is not None:
            roles, demo_users = await _ensure_demo_roles(uow, seed.demo_password, hasher)
        await uow.commit()
    return AccountsReport(
        superusers=superusers, roles=roles, demo_users=demo_users, warnings=tuple(warnings)
    )


async def _ensure_superuser(
    uow: IdentityUnitOfWork, seed: AccountSeed, hasher: PasswordHasher, warnings: list[str]
) -> int:
    credentials = await uow.identity.credentials_by_email(seed.superuser_email)
    if credentials is not None:
        user = await uow.users.get(credentials.user_id)
        usable = credentials.is_active and credentials.password_hash is not None
        if not (usable and user is not None and user.is_superuser):
            # Never promote or re-password someone else's account; tell the operator instead.
            warnings.append(
                f"{seed.superuser_email} already exists but is not an active superuser"
                " with a password; it was left unchanged."
            )
        return 0
    await uow.identity.add_user(
        email=seed.superuser_email,
        password_hash=hasher.hash(seed.superuser_password),
        full_name=SUPERUSER_FULL_NAME,
        is_superuser=True,
    )
    return 1


async def _ensure_demo_roles(
    uow: IdentityUnitOfWork, password: str, hasher: PasswordHasher
) -> tuple[int, int]:
    # Role names are unique regardless of case (as `createRole` enforces), so match that way.
    role_ids = {role.name.lower(): role.id for role in await uow.identity.list_roles()}
    roles_added = users_added = 0
    for demo in DEMO_ROLES:
        role_id = role_ids.get(demo.name.lower())
        if role_id is None:
            role = await uow.identity.add_role(
                name=demo.name, description=demo.description, grants=demo.grants
            )
            role_id = role.id
            roles_added += 1
        if await uow.identity.email_taken(demo.user_email):
            continue
        user = await uow.identity.add_user(
            email=demo.user_email,
            password_hash=hasher.hash(password),
            full_name=demo.user_full_name,
            is_superuser=False,
        )
        # Only a user created here gets the role: an administrator may have removed it since.
        await uow.identity.assign(user.id, role_id)
        users_added += 1
    return roles_added, users_added
