"""Demo rows, each a pure function of its natural key, so any run can rebuild any row.

Every row draws from its own `random.Random` seeded with the row's key: growing a size
later yields the same first rows as a single big run, whatever ran before.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, TypeVar

from domain.tasks.model import TaskPriority, TaskStatus

SEED: Final = 42
T = TypeVar("T")

FIRST_NAMES: Final = (
    "Ada", "Alan", "Amara", "Bea", "Carlos", "Chen", "Dana", "Elif", "Emma", "Farah",
    "Grace", "Hugo", "Ines", "Jonas", "Kai", "Lena", "Liam", "Maya", "Mateo", "Nina",
    "Noah", "Olga", "Omar", "Priya", "Rosa", "Sami", "Sofia", "Theo", "Yuki", "Zoe",
)  # fmt: skip
LAST_NAMES: Final = (
    "Almeida", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito",
    "Jensen", "Kowalski", "Larsen", "Martin", "Nakamura", "Novak", "Okafor", "Petrov",
    "Quinn", "Rossi", "Schmidt", "Silva", "Tanaka", "Umar", "Varga", "Weber", "Young",
)  # fmt: skip
COMPANY_PREFIXES: Final = (
    "Acme", "Blue River", "Brightline", "Cedar", "Northwind", "Granite", "Harbor", "Keystone",
    "Lumen", "Maple", "Orion", "Pioneer", "Redwood", "Silverline", "Summit", "Vertex",
)  # fmt: skip
COMPANY_SUFFIXES: Final = (
    "Logistics", "Foods", "Builders", "Labs", "Retail", "Health", "Studios", "Motors",
    "Hotels", "Energy",
)  # fmt: skip
COMPANY_FORMS: Final = ("Inc.", "Ltd.", "GmbH", "LLC", "S.A.", "")

PRODUCT_ADJECTIVES: Final = (
    "Compact", "Deluxe", "Ergonomic", "Heavy-Duty", "Lightweight", "Modular", "Portable",
    "Premium", "Recycled", "Smart", "Stackable", "Weatherproof",
)  # fmt: skip
PRODUCT_MATERIALS: Final = (
    "Aluminium", "Bamboo", "Cotton", "Glass", "Leather", "Oak", "Steel", "Walnut", "Wool",
)  # fmt: skip
PRODUCT_NOUNS: Final = (
    "Bookshelf", "Cable Kit", "Chair", "Desk", "Desk Lamp", "Filing Cabinet", "Monitor Arm",
    "Notebook", "Printer Stand", "Rug", "Storage Box", "Whiteboard", "Work Bench",
)  # fmt: skip

TASK_ACTIONS: Final = (
    "Prepare quote for", "Deliver", "Install", "Follow up on", "Invoice", "Repair",
    "Schedule maintenance of", "Confirm order of", "Replace", "Inspect",
)  # fmt: skip
TASK_OBJECTS: Final = (
    "office chairs", "meeting room furniture", "standing desks", "storage units",
    "reception area", "lighting", "warehouse shelving", "spare parts", "the annual contract",
    "the showroom setup",
)  # fmt: skip
TASK_NOTES: Final = (
    "Customer asked for a call before the visit.",
    "Check stock levels before confirming.",
    "Access through the loading dock only.",
    "Send photos of the finished work.",
    "Waiting for the purchase order number.",
)

STATUS_WEIGHTS: Final = {
    TaskStatus.TODO: 35,
    TaskStatus.IN_PROGRESS: 25,
    TaskStatus.DONE: 30,
    TaskStatus.CANCELLED: 10,
}
PRIORITY_WEIGHTS: Final = {
    TaskPriority.LOW: 25,
    TaskPriority.MEDIUM: 40,
    TaskPriority.HIGH: 25,
    TaskPriority.URGENT: 10,
}
NO_DUE_DATE_SHARE: Final = 0.2
UNASSIGNED_SHARE: Final = 0.15


def _rng(*key: object) -> random.Random:
    # String seeds are hashed with SHA-512, so they do not depend on PYTHONHASHSEED.
    return random.Random(":".join(str(part) for part in (SEED, *key)))  # noqa: S311


def product_sku(number: int) -> str:
    """The natural key of demo product `number` (1-based)."""
    return f"SKU-{number:05d}"


def customer_email(number: int) -> str:
    """The natural key of demo customer `number` (1-based)."""
    return f"customer{number:05d}@example.com"


def user_email(number: int) -> str:
    """The natural key of demo user `number` (1-based)."""
    return f"user{number:03d}@example.com"


def task_reference(customer_number: int, index: int) -> str:
    """The reference that ends a demo task's title and keeps it unique."""
    return f"T{customer_number:05d}-{index:03d}"


def _timestamps(
    rng: random.Random, now: datetime, *, min_age_days: int, max_age_days: int
) -> dict[str, datetime]:
    created = now - timedelta(days=rng.uniform(min_age_days, max_age_days))
    updated = created + (now - created) * rng.random()
    return {"created_at": created, "updated_at": updated}


def _weighted(rng: random.Random, weights: Mapping[T, int]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def product_row(number: int, now: datetime) -> dict[str, Any]:
    """Column values of demo product `number`."""
    rng = _rng("product", number)
    material = rng.choice(PRODUCT_MATERIALS)
    noun = rng.choice(PRODUCT_NOUNS)
    return {
        "sku": product_sku(number),
        "name": f"{rng.choice(PRODUCT_ADJECTIVES)} {material} {noun}",
        "description": None
        if rng.random() < 0.2
        else f"{material} {noun.lower()} for offices and workshops.",
        "price": Decimal(rng.randint(199, 250_000)).scaleb(-2),
        "stock": rng.randint(0, 500),
        "is_active": rng.random() > 0.1,
        "version": 1,
        **_timestamps(rng, now, min_age_days=366, max_age_days=730),
    }


def customer_row(number: int, now: datetime) -> dict[str, Any]:
    """Column values of demo customer `number`."""
    rng = _rng("customer", number)
    form = rng.choice(COMPANY_FORMS)
    company = f"{rng.choice(COMPANY_PREFIXES)} {rng.choice(COMPANY_SUFFIXES)} {form}".strip()
    return {
        "name": _person(rng),
        "email": customer_email(number),
        "phone": None if rng.random() < 0.15 else f"+1-555-{rng.randint(100, 999)}-{number:04d}",
        "company": None if rng.random() < 0.1 else company,
        "version": 1,
        **_timestamps(rng, now, min_age_days=366, max_age_days=730),
    }


def user_row(number: int, now: datetime) -> dict[str, Any]:
    """Column values of demo user `number`; an assignee, never a superuser."""
    rng = _rng("user", number)
    return {
        "email": user_email(number),
        "full_name": _person(rng),
        "is_active": True,
        "is_superuser": False,
        **_timestamps(rng, now, min_age_days=366, max_age_days=730),
    }


def task_row(
    customer_number: int,
    index: int,
    now: datetime,
    *,
    customer_id: int,
    assignee_ids: list[int],
) -> dict[str, Any]:
    """Column values of the `index`-th demo task (1-based) of demo customer `customer_number`."""
    rng = _rng("task", customer_number, index)
    action, subject = rng.choice(TASK_ACTIONS), rng.choice(TASK_OBJECTS)
    today = now.date()
    due_date: date | None = None
    if rng.random() >= NO_DUE_DATE_SHARE:
        due_date = today + timedelta(days=rng.randint(-30, 90))
    assignee_id = None
    if assignee_ids and rng.random() >= UNASSIGNED_SHARE:
        assignee_id = rng.choice(assignee_ids)
    return {
        "title": f"{action} {subject} ({task_reference(customer_number, index)})",
        "description": rng.choice(TASK_NOTES) if rng.random() < 0.6 else None,
        "status": _weighted(rng, STATUS_WEIGHTS),
        "priority": _weighted(rng, PRIORITY_WEIGHTS),
        "due_date": due_date,
        "customer_id": customer_id,
        "assignee_id": assignee_id,
        "version": 1,
        # Younger than every demo customer, so no task predates its customer.
        **_timestamps(rng, now, min_age_days=0, max_age_days=365),
    }


def task_product_ids(
    customer_number: int, index: int, product_ids: list[int], links: int
) -> list[int]:
    """The distinct products linked to a new demo task: `links` of them, or all if fewer."""
    rng = _rng("links", customer_number, index)
    return rng.sample(product_ids, min(links, len(product_ids)))
