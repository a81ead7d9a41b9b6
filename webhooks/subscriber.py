"""What webhooks listen to: domain events become deliveries, one per subscribed endpoint.

Runs after the write committed, in the writer's thread: it reads the object once, writes the delivery rows
and queues them; the HTTP calls happen in the worker (workers.actors.deliver_webhook).
"""

from crm import events, queries
from crm.models import FollowUp, Interaction, Stage
from webhooks.models import Endpoint
from webhooks.services import queue_event

handlers = events.Handlers("webhooks")

CLOSING = {Stage.Kind.WON: "lead.won", Stage.Kind.LOST: "lead.lost"}


def _listening(*event_types: str) -> dict[str, list[Endpoint]]:
    """The active endpoints per event type, for the types someone listens to (one query)."""
    found: dict[str, list[Endpoint]] = {}
    for endpoint in Endpoint.objects.filter(is_active=True):
        for event_type in set(event_types) & set(endpoint.events):
            found.setdefault(event_type, []).append(endpoint)
    return found


def _lead(lead_id: int) -> dict | None:
    # Imported here: this module loads in every process at Django setup (the app's ready()), and DRF's
    # serializers cost ~0.15 s of CPU that a training or import command never needs.
    from api.serializers import LeadSerializer

    lead = queries.card_queryset().filter(pk=lead_id).first()
    return None if lead is None else LeadSerializer(lead).data


@handlers.on(events.LeadCreated)
def _created(event: events.LeadCreated) -> None:
    if (listening := _listening("lead.created")) and (lead := _lead(event.lead_id)):
        queue_event("lead.created", {"object": lead}, listening["lead.created"])


@handlers.on(events.LeadChanged)
def _changed(event: events.LeadChanged) -> None:
    if (listening := _listening("lead.updated")) and (lead := _lead(event.lead_id)):
        queue_event(
            "lead.updated", {"object": lead, "changed": list(event.fields)}, listening["lead.updated"]
        )


@handlers.on(events.LeadMoved)
def _moved(event: events.LeadMoved) -> None:
    listening = _listening("lead.moved", *CLOSING.values())
    if not listening or not (lead := _lead(event.lead_id)):
        return
    stages = {pk: (slug, kind) for pk, slug, kind in Stage.objects.values_list("pk", "slug", "kind")}
    from_slug = stages.get(event.from_stage_id, (None, None))[0]
    payload = {"object": lead, "from_stage": from_slug, "to_stage": lead["stage"]}
    event_types = ["lead.moved"]
    if event.from_stage_id != event.to_stage_id:  # a lead is won once, not again when reordered in Won
        event_types.append(CLOSING.get(stages.get(event.to_stage_id, (None, None))[1]))
    for event_type in event_types:
        if event_type in listening:
            queue_event(event_type, payload, listening[event_type])


@handlers.on(events.InteractionLogged)
def _interaction(event: events.InteractionLogged) -> None:
    if not (listening := _listening("interaction.logged")):
        return
    interaction = Interaction.objects.select_related("agent").filter(pk=event.interaction_id).first()
    if interaction is not None:
        from api.serializers import InteractionSerializer  # see _lead

        payload = {"object": InteractionSerializer(interaction).data}
        queue_event("interaction.logged", payload, listening["interaction.logged"])


@handlers.on(events.LeadsImported)
def _imported(event: events.LeadsImported) -> None:
    if listening := _listening("leads.imported"):
        payload = {"object": {"lead_ids": list(event.lead_ids), "updated_ids": list(event.updated_ids)}}
        queue_event("leads.imported", payload, listening["leads.imported"])


@handlers.on(events.LeadSnoozed)
def _snoozed(event: events.LeadSnoozed) -> None:
    if (listening := _listening("lead.snoozed")) and (lead := _lead(event.lead_id)):
        queue_event("lead.snoozed", {"object": lead, "until": event.until}, listening["lead.snoozed"])


@handlers.on(events.FollowUpChanged, events.ReminderDue)
def _follow_up(event: events.FollowUpChanged | events.ReminderDue) -> None:
    event_type = "follow_up.due" if isinstance(event, events.ReminderDue) else "follow_up.changed"
    follow_up = FollowUp.objects.filter(pk=event.follow_up_id).first()
    if (listening := _listening(event_type)) and follow_up is not None:
        payload = {
            "object": {
                "id": follow_up.pk,
                "lead": follow_up.lead_id,
                "owner": follow_up.owner_id,
                "due_at": follow_up.due_at.isoformat(),
                "note": follow_up.note,
                "state": follow_up.state,
                "sequence": follow_up.sequence,
            }
        }
        queue_event(event_type, payload, listening[event_type])


# Background rescoring (every open lead, daily) would flood receivers; the board's own bookkeeping and the
# task queue's requests are not facts about leads.
handlers.ignore(
    events.ScoresChanged,
    events.ColumnRebalanced,
    events.StagesChanged,
    events.ImportRequested,
    events.TrainingRequested,
    events.TrainingUpdated,
)
