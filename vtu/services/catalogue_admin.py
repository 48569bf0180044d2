"""Staff edits of the catalogue, routing and provider switches from the console (networks,
data plans, provider plan mappings, routes, provider states): one row per call, in its own
transaction with its audit record of the fields that changed, before and after.

- Values are recorded as stored: a foreign key as the id it holds (`"network": [1, 2]`), so
  the record never depends on how a related row prints and is always JSON.
- A new row is `<kind>.create` with every field it was given; an edit is `<kind>.update`
  with what changed; an edit that changes nothing writes nothing.
- An edit writes only the fields the staff member changed (`fields`): the workers update a
  provider state's circuit and health, and the sync a plan's cost and last-seen time, while
  the form is open, and a full save would put back what the form loaded.
- Nothing is deleted from the console (history refers to these rows): switch it off.
- A provider plan's cost set by hand is also a ProviderPlanCostChange, as when a sync changes
  it, so the cost history stays complete.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction

from audit.services import Actor, audit_record, diff
from config.errors import InvalidState
from vtu.models import DataPlan, Network, ProviderPlan, ProviderPlanCostChange, ProviderState, Route
from vtu.services import snapshot

# model -> (action for a new row, action for an edit); provider states are made by the system.
ACTIONS: dict[type[models.Model], tuple[str | None, str]] = {
    Network: ("network.create", "network.update"),
    DataPlan: ("plan.create", "plan.update"),
    ProviderPlan: ("provider_plan.create", "provider_plan.update"),
    Route: ("routing.create", "routing.update"),
    ProviderState: (None, "provider.update"),
}


def stored_values(row: models.Model, names: Iterable[str] | None = None) -> dict[str, Any]:
    """{field name: the value as stored} (a foreign key's id), for `names` or every field."""
    fields = [field for field in row._meta.concrete_fields if not field.primary_key]
    wanted = None if names is None else set(names)
    return {field.name: field.value_from_object(row) for field in fields if wanted is None or field.name in wanted}


def catalogue_row_save(
    *, actor: Actor, row: models.Model, fields: Iterable[str] | None = None, reason: str = ""
) -> dict[str, list[Any]]:
    """Create `row` (no pk yet) or write its `fields` (the names the staff member changed;
    None: every field), and audit the difference. Locks the existing row to read its before
    values. Returns the recorded changes ({} when nothing changed: nothing written). Raises
    INVALID_STATE for a row kind staff may not create."""
    create_action, update_action = ACTIONS[type(row)]
    with transaction.atomic():
        current = type(row).objects.select_for_update().filter(pk=row.pk).first() if row.pk else None
        if current is None:
            changes, action = _create(row, create_action), create_action
        else:
            changes, action = _update(row, current, fields), update_action
        if changes:
            _cost_history(row, changes)
            audit_record(action=action, actor=actor, target=row, changes=changes, reason=reason)
    snapshot.forget()  # this process sees the change at once; the others within the cache TTL
    return changes


def _create(row: models.Model, action: str | None) -> dict[str, list[Any]]:
    if action is None:
        raise InvalidState(f"A {row._meta.verbose_name} is not created by hand.")
    row.save(force_insert=True)
    return diff({}, stored_values(row))


def _update(row: models.Model, current: models.Model, fields: Iterable[str] | None) -> dict[str, list[Any]]:
    names = [field.name for field in row._meta.concrete_fields if not field.primary_key]
    written = names if fields is None else [name for name in fields if name in names]
    changes = diff(stored_values(current, written), stored_values(row, written))
    if changes:
        row.save(update_fields=[row._meta.get_field(name).attname for name in changes])
    return changes


def _cost_history(row: models.Model, changes: dict[str, list[Any]]) -> None:
    if isinstance(row, ProviderPlan) and "cost_kobo" in changes:
        old, new = changes["cost_kobo"]
        ProviderPlanCostChange.objects.create(provider_plan=row, old_cost_kobo=old, new_cost_kobo=new)
