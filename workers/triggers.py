"""What the background work listens to: lead changes ask for a rescore, coalesced into one run."""

from django.conf import settings
from django.core.cache import cache

from crm import events
from workers import actors
from workers.models import ScoreRequest

handlers = events.Handlers("workers")


@handlers.on(events.LeadCreated, events.LeadChanged, events.InteractionLogged)
def _lead_changed(event) -> None:
    request_scores([event.lead_id])


@handlers.on(events.LeadMoved)
def _moved(event: events.LeadMoved) -> None:
    # A move changes no feature; only a lead back among the open ones (which alone are scored) needs one.
    if event.reopened:
        request_scores([event.lead_id])


@handlers.on(events.LeadsImported)
def _imported(event: events.LeadsImported) -> None:
    request_scores([*event.lead_ids, *event.updated_ids])


@handlers.on(events.TrainingRequested)
def _training_requested(event: events.TrainingRequested) -> None:
    actors.train_model.send()


@handlers.on(events.ImportRequested)
def _import_requested(event: events.ImportRequested) -> None:
    actors.import_leads_job.send(event.job_id)


# Results of background work itself (rescoring them again would loop) and board-only bookkeeping.
handlers.ignore(events.ScoresChanged, events.TrainingUpdated, events.ColumnRebalanced, events.StagesChanged)
# Snoozes and follow-ups change no score; their emails are planned as rows the periodic jobs send.
handlers.ignore(events.LeadSnoozed, events.FollowUpChanged, events.ReminderDue)


def request_scores(lead_ids: list[int]) -> None:
    # A lead that asks again moves its request's time on, so a run already scoring it keeps the request.
    ScoreRequest.objects.bulk_create(
        [ScoreRequest(lead_id=pk) for pk in lead_ids],
        update_conflicts=True,
        unique_fields=["lead_id"],
        update_fields=["requested_at"],
        batch_size=5000,
    )
    schedule_pending()


def schedule_pending() -> None:
    # The first change of a burst schedules the run; the run clears the key when it starts (the timeout
    # only covers a run that never starts).
    if cache.add(actors.SCHEDULED_KEY, 1, timeout=30):
        actors.score_pending.send_with_options(delay=settings.SCORE_COALESCE_MS)
