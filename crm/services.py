"""Every write the product makes. One function per write: validate, write in one transaction, record history,
publish the event on commit. Views, consumers, actors and commands call these; nothing else writes leads.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.text import slugify

from crm import bulk, events, lead_fields, positions
from crm.models import Interaction, Lead, LeadSource, Stage
from crm.permissions import can_change, is_manager
from crm.queries import describe_last_change

EDITABLE_FIELDS = lead_fields.EDITABLE


class Conflict(Exception):
    """The write was refused because the lead is not as the caller saw it; `lead` is how it is now."""

    def __init__(self, lead: Lead, message: str):
        super().__init__(message)
        self.lead = lead
        self.message = message


def _forbid_unless_can_change(actor, lead: Lead) -> None:
    if not can_change(actor, lead):
        owner = lead.owner.get_username() if lead.owner else "nobody"
        raise PermissionDenied(f"“{lead.name}” belongs to {owner}; only they or a manager can change it.")


def _forbid_giving_away(actor, owner) -> None:
    """Agents take leads or leave them unassigned; only managers hand a lead to someone else."""
    if owner is not None and owner != actor and not is_manager(actor):
        raise PermissionDenied("Only a manager can give a lead to someone else.")


def _check_version(lead: Lead, version: int | None) -> None:
    """A conflict is a change by someone since the caller's version; a background rescore is not one."""
    if version is None or int(version) == lead.version:
        return
    seen = int(version)
    changes = lead.history.filter(version__gt=seen).exclude(history_change_reason=RESCORED)
    if seen > lead.version or changes.exists():
        raise Conflict(lead, f"“{lead.name}” was changed meanwhile: {describe_last_change(lead)}.")


def _save(lead: Lead, actor, reason: str, fields: list[str] | None = None) -> None:
    """Save with a bumped version and a history row that names the actor."""
    lead.version += 1
    lead._history_user = actor
    lead._change_reason = reason
    lead.full_clean(exclude=["stage", "source", "owner"], validate_unique=False, validate_constraints=False)
    lead.save(update_fields=None if fields is None else [*fields, "version", "updated_at"])


def _locked(lead_id: int) -> Lead:
    """The lead, locked, with what its card shows (owner, source): a write's answer renders it as it is.

    of=("self",): lock the lead row only; the joins are outer joins Postgres will not lock."""
    return Lead.objects.select_for_update(of=("self",)).select_related("owner", "source").get(pk=lead_id)


def _is_full(stage: Stage) -> bool:
    return stage.wip_limit is not None and Lead.objects.filter(stage=stage).count() >= stage.wip_limit


def _end_of_stage(stage: Stage) -> int:
    last = Lead.objects.filter(stage=stage).board_order().reverse().values_list("position", flat=True).first()
    return positions.between(last, None)


@transaction.atomic
def create_lead(
    *, actor, name: str, stage: Stage | None = None, created_at: datetime | None = None, **fields
) -> Lead:
    """A new lead at the end of its column; `created_at` (imports, the demo) backdates it and its history."""
    stage = stage or Stage.objects.filter(kind=Stage.Kind.OPEN).first()  # the pipeline's first column
    if stage is None:
        raise ValidationError("Create the pipeline's stages before adding leads.")
    Stage.objects.select_for_update().get(pk=stage.pk)  # serialise keys at the end of this column
    unknown = set(fields) - set(EDITABLE_FIELDS) - {"attributes", "external_id", "lead_score", "score_source"}
    if unknown:
        raise ValidationError(f"Unknown lead fields: {', '.join(sorted(unknown))}")
    _forbid_giving_away(actor, fields.get("owner"))
    lead = Lead(name=name, stage=stage, position=_end_of_stage(stage), **fields)
    if created_at is not None:
        lead.created_at = lead._history_date = created_at
    if stage.is_closed:
        lead.closed_at = timezone.now()
    lead.version = 0
    _save(lead, actor, "created")
    events.publish(events.LeadCreated(actor_id=getattr(actor, "pk", None), lead_id=lead.pk))
    return lead


@transaction.atomic
def update_lead(lead_id: int, *, actor, version: int | None, changes: dict) -> Lead:
    lead = _locked(lead_id)
    _forbid_unless_can_change(actor, lead)
    _check_version(lead, version)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be edited here: {', '.join(sorted(unknown))}")
    changed = [name for name, value in changes.items() if getattr(lead, name) != value]
    if not changed:
        return lead
    if "owner" in changed:
        _forbid_giving_away(actor, changes["owner"])
    for name in changed:
        setattr(lead, name, changes[name])
    _save(lead, actor, "edited", changed)
    events.publish(events.LeadChanged(actor_id=actor.pk, lead_id=lead.pk, fields=tuple(changed)))
    return lead


@dataclass(frozen=True)
class Placement:
    """Where the mover dropped the card: its index in the column as they saw it, and the neighbours they saw.

    Neighbours win over the index: they keep the mover's intent when the column is filtered on their screen
    or changed under them.
    """

    index: int
    prev_id: int | None = None
    next_id: int | None = None


def _neighbour_keys(lead: Lead, stage: Stage, placement: Placement) -> tuple[int | None, int | None]:
    column = Lead.objects.filter(stage=stage).exclude(pk=lead.pk).board_order()
    keys = column.values_list("position", "id")
    if placement.next_id is not None:
        nxt = keys.filter(pk=placement.next_id).first()
        if nxt is not None:
            above = column.before(*nxt).reverse().values_list("position", "id").first()
            return (above[0] if above else None), nxt[0]
    if placement.prev_id is not None:
        prev = keys.filter(pk=placement.prev_id).first()
        if prev is not None:
            below = column.after(*prev).values_list("position", "id").first()
            return prev[0], (below[0] if below else None)
    index = max(placement.index, 0)
    window = list(keys[max(index - 1, 0) : index + 1])
    if index == 0:
        return None, (window[0][0] if window else None)
    above = window[0][0] if window else None
    below = window[1][0] if len(window) > 1 else None
    if not window:  # index past the end: append
        last = keys.reverse().first()
        above = last[0] if last else None
    return above, below


def rebalance_stage(stage: Stage) -> None:
    """Renumber a column evenly. Rare: only when a gap between two neighbours is used up."""
    leads = list(Lead.objects.filter(stage=stage).board_order().only("id", "position"))
    for lead, key in zip(leads, positions.spread(len(leads)), strict=True):
        lead.position = key
    # Filtered by stage: a card moved out meanwhile (its move locked only its new column) is left alone.
    Lead.objects.filter(stage=stage).bulk_update(leads, ["position"], batch_size=1000)
    events.publish(events.ColumnRebalanced(actor_id=None, stage_id=stage.pk))


@transaction.atomic
def move_lead(lead_id: int, *, actor, stage_slug: str, placement: Placement, version: int | None) -> Lead:
    """Move a card to a place in a column; one row written (rarely the column, when its keys run out)."""
    # Lock order is always lead row, then target stage row: moves into the same column queue behind each
    # other so two of them never compute the same key, and 10 movers of one card see one winner.
    lead = _locked(lead_id)
    target = Stage.objects.select_for_update().filter(slug=stage_slug).first()
    if target is None:
        raise ValidationError(f"There is no stage “{stage_slug}”.")
    _forbid_unless_can_change(actor, lead)
    _check_version(lead, version)
    from_stage_id = lead.stage_id
    if target.pk != from_stage_id and _is_full(target):
        raise Conflict(lead, f"“{target.name}” is full: its limit is {target.wip_limit} leads.")
    above, below = _neighbour_keys(lead, target, placement)
    key = positions.between(above, below)
    if key is None:
        rebalance_stage(target)
        above, below = _neighbour_keys(lead, target, placement)
        key = positions.between(above, below)
    lead.stage = target
    lead.position = key
    fields = ["stage", "position"]
    reopened = not target.is_closed and lead.closed_at is not None
    if target.is_closed and lead.closed_at is None:
        lead.closed_at = timezone.now()
        fields.append("closed_at")
    elif reopened:
        lead.closed_at = None
        fields.append("closed_at")
    _save(lead, actor, "moved", fields)
    moved = {"lead_id": lead.pk, "from_stage_id": from_stage_id, "to_stage_id": target.pk}
    events.publish(events.LeadMoved(actor_id=actor.pk, reopened=reopened, **moved))
    return lead


@transaction.atomic
def log_interaction(
    lead_id: int, *, actor, kind: str, notes: str = "", outcome: str = "", occurred_at: datetime | None = None
) -> Interaction:
    lead = _locked(lead_id)
    _forbid_unless_can_change(actor, lead)
    if kind not in Interaction.Kind.values:
        raise ValidationError(f"“{kind}” is not a kind of interaction.")
    interaction = Interaction(
        lead=lead,
        agent=actor,
        kind=kind,
        notes=notes,
        outcome=outcome,
        occurred_at=occurred_at or timezone.now(),
    )
    interaction.full_clean()
    interaction.save()
    lead.interaction_count += 1  # the row is locked, so a plain increment is exact
    fields = ["interaction_count"]
    if lead.first_contact_at is None or interaction.occurred_at < lead.first_contact_at:
        lead.first_contact_at = interaction.occurred_at  # the analytics' first contact (see Lead)
        fields.append("first_contact_at")
    if lead.last_interaction_at is None or interaction.occurred_at >= lead.last_interaction_at:
        lead.last_interaction_kind = kind
        lead.last_interaction_at = interaction.occurred_at
        fields += ["last_interaction_kind", "last_interaction_at"]
    _save(lead, actor, f"logged a {kind}", fields)
    events.publish(
        events.InteractionLogged(actor_id=actor.pk, lead_id=lead.pk, interaction_id=interaction.pk)
    )
    return interaction


def _forbid_unless_manager(actor) -> None:
    # None is the system (the admin's callers, commands): the pipeline's shape is the managers' to change.
    if actor is not None and not is_manager(actor):
        raise PermissionDenied("Only a manager can change the pipeline's stages.")


def _require_an_open_stage() -> None:
    """New leads and imports go to the first open column: a pipeline without one cannot take leads."""
    if not Stage.objects.filter(kind=Stage.Kind.OPEN).exists():
        raise ValidationError("The pipeline needs at least one open stage for new leads.")


def _stages_changed(actor) -> None:
    events.publish(events.StagesChanged(actor_id=getattr(actor, "pk", None)))


@transaction.atomic
def save_stage(stage: Stage, *, actor) -> Stage:
    """Add or change a pipeline column (the settings' and the admin's one door): every board re-reads it.

    A new stage goes to the end of the open ones' order unless it has a place; its kind cannot change while it
    holds leads (they would turn won or lost without being closed).
    """
    _forbid_unless_manager(actor)
    if stage.pk is None:
        if not stage.slug:
            stage.slug = _free_slug(stage.name)
        if not stage.order:
            stage.order = (Stage.objects.aggregate(last=Max("order"))["last"] or 0) + 1
    else:
        before = Stage.objects.select_for_update().get(pk=stage.pk)
        if before.kind != stage.kind and Lead.objects.filter(stage=stage).exists():
            message = f"“{before.name}” has leads: merge them into another stage before changing its kind."
            raise ValidationError({"kind": message})
    stage.full_clean()
    stage.save()
    _require_an_open_stage()
    _stages_changed(actor)
    return stage


def _free_slug(name: str) -> str:
    base = slugify(name)[:50] or "stage"
    slug, n = base, 1
    while Stage.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def delete_stage(stage: Stage, *, actor) -> None:
    """Remove an empty column; a column with leads is refused (PROTECT) rather than emptied: merge it."""
    _forbid_unless_manager(actor)
    if Lead.objects.filter(stage=stage).exists():
        raise ValidationError(f"“{stage.name}” still has leads; move them to another stage first.")
    stage.delete()
    _require_an_open_stage()
    _stages_changed(actor)


@transaction.atomic
def reorder_stages(stage_ids: list[int], *, actor) -> list[Stage]:
    """Put the columns in this order. The list must name every stage once: an order made from a stale page
    (a stage added or removed meanwhile) is refused rather than guessed."""
    _forbid_unless_manager(actor)
    stages = {stage.pk: stage for stage in Stage.objects.select_for_update()}
    if sorted(stage_ids) != sorted(stages):
        raise ValidationError("The stages changed meanwhile; reload the page and try again.")
    ordered = [stages[pk] for pk in stage_ids]
    for order, stage in enumerate(ordered):
        stage.order = order
    Stage.objects.bulk_update(ordered, ["order"])
    _stages_changed(actor)
    return ordered


def shift_stage(stage_id: int, *, actor, by: int) -> list[Stage]:
    """Move one column `by` places left (negative) or right: the keyboard's way to reorder."""
    ids = list(Stage.objects.values_list("pk", flat=True))
    if stage_id not in ids:
        raise ValidationError("That stage does not exist any more.")
    old = ids.index(stage_id)
    ids.insert(min(max(old + by, 0), len(ids) - 1), ids.pop(old))
    return reorder_stages(ids, actor=actor)


@transaction.atomic
def merge_stage(stage_id: int, *, into_id: int, actor) -> Stage:
    """Empty a column into another and remove it. Its leads go to the end of the target in their order, each
    saved as a move (history names the merge, the event tells boards and webhooks); the target's WIP limit
    holds, as it would for a drag."""
    _forbid_unless_manager(actor)
    pair = Stage.objects.select_for_update().filter(pk__in=[stage_id, into_id])
    locked = {stage.pk: stage for stage in pair}
    source, target = locked.get(stage_id), locked.get(into_id)
    if source is None or target is None:
        raise ValidationError("That stage does not exist any more.")
    if source == target:
        raise ValidationError("Pick another stage to merge into.")
    leads = list(
        Lead.objects.select_for_update(of=("self",))
        .select_related("owner")
        .filter(stage=source)
        .board_order()
    )
    if target.wip_limit is not None:
        total = Lead.objects.filter(stage=target).count() + len(leads)
        if total > target.wip_limit:
            raise ValidationError(
                f"“{target.name}” takes at most {target.wip_limit} leads; the merge would make {total}. "
                "Raise its limit first."
            )
    key = _end_of_stage(target)
    now = timezone.now()
    for lead in leads:
        lead.stage, lead.position = target, key
        key += positions.STEP
        fields = ["stage", "position"]
        reopened = not target.is_closed and lead.closed_at is not None
        if target.is_closed != (lead.closed_at is not None):
            lead.closed_at = now if target.is_closed else None
            fields.append("closed_at")
        _save(lead, actor, f"moved: “{source.name}” merged into “{target.name}”", fields)
        moved = {"lead_id": lead.pk, "from_stage_id": source.pk, "to_stage_id": target.pk}
        events.publish(events.LeadMoved(actor_id=getattr(actor, "pk", None), reopened=reopened, **moved))
    source.delete()
    _require_an_open_stage()
    _stages_changed(actor)
    return target


def source_named(name: str, *, actor=None) -> LeadSource | None:
    """The source of that name (letter case aside), created the first time a lead names it."""
    name = (name or "").strip()
    if not name:
        return None
    existing = LeadSource.objects.filter(name__iexact=name).first()
    if existing is not None:
        return existing
    source = LeadSource(name=name)
    source.full_clean()
    source.save()
    return source


BULK_BATCH = 2000  # rows built, written and reported per step


def history_stamp(actor, reason: str, when: datetime, kind: str = "+") -> dict:
    """The history columns simple-history writes for a change, for rows written in bulk."""
    return {
        "history_date": when,
        "history_user_id": getattr(actor, "pk", None),
        "history_type": kind,
        "history_change_reason": reason,
    }


@transaction.atomic
def import_leads_in_bulk(
    rows: Iterable[dict], *, actor, reason: str, progress: Callable[[int], None] | None = None
) -> tuple[list[int], list[int]]:
    """Create and update many leads at once (an import): the one door for bulk writes to leads.

    A row is a new lead's checked column values with a `stage`, or `{"pk": <id>, **changes}` for an existing
    lead (a re-import: Lead attribute names, `stage` a Stage). Each lead gets a history row naming the actor;
    a new one, or one changing column, goes to the end of its column; one LeadsImported event announces them
    all on commit. New rows go in by COPY / multi-row INSERT (`crm.bulk`), changes by bulk UPDATEs: the
    one-lead path would take minutes for 50,000 rows. Returns (created ids, updated ids).
    """
    # Like create_lead, hold the stage rows: keys appended here cannot collide with a concurrent create.
    stages = {stage.pk: stage for stage in Stage.objects.select_for_update().order_by("pk")}
    ends = dict(Lead.objects.order_by().values_list("stage_id").annotate(last=Max("position")))
    next_key = {pk: positions.between(ends.get(pk), None) for pk in stages}
    now = timezone.now()
    leads, history = bulk.BulkTable(Lead), bulk.BulkTable(Lead.history.model)
    stamp = history_stamp(actor, reason, now)
    created: list[int] = []
    updated: list[int] = []

    def place(stage: Stage) -> int:
        key = next_key[stage.pk]
        next_key[stage.pk] += positions.STEP
        return key

    def report() -> None:
        if progress is not None:
            progress(len(created) + len(updated))

    def insert(batch: list[dict]) -> None:
        new = leads.insert_returning_ids(batch)
        history.insert([{**row, "id": pk, **stamp} for row, pk in zip(batch, new, strict=True)])
        created.extend(new)
        report()

    def change(batch: dict[int, dict]) -> None:
        # Locked in id order, as one import always takes them: two imports touching the same leads queue.
        changed = list(Lead.objects.select_for_update(of=("self",)).filter(pk__in=list(batch)).order_by("pk"))
        fields = {"version", "updated_at"}
        for lead in changed:
            changes = dict(batch[lead.pk])
            stage = changes.pop("stage", None)
            if stage is not None and stage.pk != lead.stage_id:
                lead.stage, lead.position = stage, place(stage)
                if stage.is_closed != (lead.closed_at is not None):
                    lead.closed_at = now if stage.is_closed else None
                fields |= {"stage", "position", "closed_at"}
            for name, value in changes.items():
                setattr(lead, name, value)
                fields.add(Lead._meta.get_field(name).name)
            lead.version += 1
            lead.updated_at = now
        Lead.objects.bulk_update(changed, sorted(fields), batch_size=500)
        Lead.history.bulk_history_create(
            changed, update=True, default_user=actor, default_change_reason=reason, default_date=now
        )
        updated.extend(lead.pk for lead in changed)
        report()

    new_rows: list[dict] = []
    changes: dict[int, dict] = {}
    for row in rows:
        if "pk" in row:
            changes[row.pop("pk")] = row
        else:
            stage = row.pop("stage")
            row["stage_id"] = stage.pk
            row["position"] = place(stage)
            row["closed_at"] = now if stage.is_closed else None
            row.setdefault("created_at", now)
            row["updated_at"] = now
            new_rows.append(row)
        if len(new_rows) == BULK_BATCH:
            insert(new_rows)
            new_rows = []
        if len(changes) == BULK_BATCH:
            change(changes)
            changes = {}
    if new_rows:
        insert(new_rows)
    if changes:
        change(changes)
    events.publish(
        events.LeadsImported(
            actor_id=getattr(actor, "pk", None), lead_ids=tuple(created), updated_ids=tuple(updated)
        )
    )
    return created, updated


def money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


SCORE_BATCH = 5000


RESCORED = "rescored"


def record_scores(
    scores: dict[int, tuple[int, str]],
    current: dict[int, tuple[int | None, str]] | None = None,
    reason: str = RESCORED,
) -> list[int]:
    """Write the scores that changed (score, where it came from); return the ids that changed.

    `current` is what the caller read with the leads (saves reading 100,000 rows twice); a score changed
    meanwhile is at worst written again. Changed leads get one UPDATE per distinct (score, source) pair, not
    one per lead, a bumped version (so browsers accept the new card) and a history row each.
    """
    if current is None:
        current = {}
        ids = list(scores)
        for start in range(0, len(ids), SCORE_BATCH):
            rows = Lead.objects.filter(pk__in=ids[start : start + SCORE_BATCH])
            current.update((pk, (s, o)) for pk, s, o in rows.values_list("pk", "lead_score", "score_source"))
    changed: dict[tuple[int, str], list[int]] = {}
    for pk, new in scores.items():
        if pk in current and current[pk] != new:
            changed.setdefault(new, []).append(pk)
    if not changed:
        return []
    changed_ids = []
    with transaction.atomic():
        for (score, source), pks in changed.items():
            for start in range(0, len(pks), SCORE_BATCH):
                batch = pks[start : start + SCORE_BATCH]
                Lead.objects.filter(pk__in=batch).update(
                    lead_score=score, score_source=source, version=F("version") + 1
                )
            changed_ids += pks
        for start in range(0, len(changed_ids), SCORE_BATCH):
            leads = list(Lead.objects.filter(pk__in=changed_ids[start : start + SCORE_BATCH]))
            Lead.history.bulk_history_create(leads, default_change_reason=reason, batch_size=SCORE_BATCH)
        events.publish(events.ScoresChanged(actor_id=None, lead_ids=tuple(changed_ids)))
    return changed_ids
