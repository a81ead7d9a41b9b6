"""Scores computed in the background reach every board and the managers' dashboard without a reload."""

import pytest
from channels.db import database_sync_to_async

from crm import scoring, services
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_new_score_reaches_the_board_as_the_updated_card(open_socket, alice, stages, opening_tag):
    lead = await database_sync_to_async(LeadFactory)(
        stage=stages["new"], lead_score=20, score_source="heuristic"
    )
    socket = await open_socket(alice)
    await database_sync_to_async(services.record_scores)({lead.pk: (83, "model")})
    frame = await socket.next_board_frame()
    card = opening_tag(frame, f"lead-{lead.pk}")
    assert card["data-version"] == "2"
    assert '<span class="score hot"' in frame
    assert ">83</span>" in frame


async def test_a_bulk_rescore_asks_boards_to_reload_instead_of_sending_every_card(open_socket, alice, stages):
    leads = await database_sync_to_async(lambda: [LeadFactory(stage=stages["new"]) for _ in range(60)])()
    socket = await open_socket(alice)
    await database_sync_to_async(services.record_scores)({lead.pk: (50, "heuristic") for lead in leads})
    frame = await socket.next_board_frame()
    assert 'id="board-refresh"' in frame
    assert "lead-" not in frame


async def test_training_progress_reaches_the_managers_dashboard(open_socket, manager, stages):
    socket = await open_socket(manager, "/ws/dashboard/")
    await database_sync_to_async(scoring.set_training)("running", "Cross-validating hgb", 0.4)
    frame = await socket.receive_from()
    assert frame.startswith('<section id="model-panel" class="panel" hx-swap-oob="true">')
    assert "Cross-validating hgb" in frame


async def test_a_send_from_a_plain_worker_thread_reaches_the_board(open_socket, alice, stages):
    """Embedded mode's Dramatiq threads are no children of the server loop; their frames must still arrive."""
    import threading

    lead = await database_sync_to_async(LeadFactory)(stage=stages["new"])
    socket = await open_socket(alice)
    worker = threading.Thread(target=services.record_scores, args=({lead.pk: (64, "heuristic")},))
    worker.start()
    frame = await socket.next_board_frame()
    worker.join()
    assert f'id="lead-{lead.pk}"' in frame
    assert ">64</span>" in frame
