"""Two real server processes on one Postgres and one Redis, as production runs them behind a load balancer."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.exceptions import InvalidStatus

from crm.models import Lead
from tests.factories import LeadFactory
from tests.live import board_socket, post, receive_until, requires_services, session_cookie

pytestmark = [
    pytest.mark.system,
    pytest.mark.slow,
    requires_services,
    pytest.mark.django_db(transaction=True),
]


def is_presence(frame: str) -> bool:
    return 'id="presence"' in frame


def card_tag(frame: str, lead: Lead) -> str:
    return re.search(rf'<article id="lead-{lead.pk}"[^>]*>', frame).group(0)


def test_a_move_through_one_server_reaches_a_socket_on_the_other(server_pair, stages, alice, bob):
    server_a, server_b = server_pair
    lead = LeadFactory(name="Ana Silva", stage=stages["new"])
    with board_socket(server_b, session_cookie(bob)) as bob_socket:
        # Bob's own arrival comes back through Redis: server B is subscribed before the move is made.
        receive_until(bob_socket, is_presence)
        moved = post(
            server_a,
            f"/leads/{lead.pk}/move/",
            {"stage": "contacted", "index": 0, "version": lead.version},
            session_cookie(alice),
        )
        assert moved.status == 200
        frame = receive_until(bob_socket, lambda text: f'id="lead-{lead.pk}"' in text)
    assert frame.startswith('<div id="board-seq" hx-swap-oob="true" data-seq="')
    card = card_tag(frame, lead)
    assert f'data-version="{lead.version + 1}"' in card
    assert 'data-stage="contacted"' in card


def test_ten_concurrent_moves_of_one_version_have_exactly_one_winner(server_pair, stages, alice, bob):
    lead = LeadFactory(name="Ana Silva", stage=stages["new"])
    LeadFactory.create_batch(4, stage=stages["contacted"])
    sessions = [session_cookie(alice), session_cookie(bob)]
    start = threading.Barrier(10)

    def move(i: int):
        start.wait()  # all ten leave together, half through each server
        fields = {"stage": "contacted", "index": i % 5, "version": lead.version}
        return post(server_pair[i % 2], f"/leads/{lead.pk}/move/", fields, sessions[i % 2])

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(move, range(10)))

    assert sorted(r.status for r in responses) == [200] + [409] * 9
    winner = next(i for i, r in enumerate(responses) if r.status == 200)
    refreshed = Lead.objects.get(pk=lead.pk)
    assert refreshed.version == lead.version + 1
    assert refreshed.history.filter(history_change_reason="moved").count() == 1
    column = list(Lead.objects.filter(stage=stages["contacted"]).order_by("position", "id"))
    assert len({card.position for card in column}) == len(column) == 5
    assert column.index(refreshed) == winner % 5
    # Each loser is shown the card as it is now, and who moved it.
    mover = ["Alice Martin", "Bob Nguyen"][winner % 2]
    for response in responses:
        if response.status == 409:
            assert f'data-version="{lead.version + 1}"' in card_tag(response.text, lead)
            assert f"{mover} moved it to Contacted" in response.headers["hx-trigger"]


def test_an_anonymous_socket_is_refused(server_pair, alice):
    server = server_pair[0]
    with board_socket(server, session_cookie(alice)):
        pass  # the same socket with a session is welcome
    with pytest.raises(InvalidStatus) as refused:
        board_socket(server)
    assert refused.value.response.status_code == 403


def test_a_socket_from_a_foreign_origin_is_refused(server_pair, alice):
    server = server_pair[1]
    session = session_cookie(alice)
    with board_socket(server, session):
        pass  # the same session from the board's own origin is welcome
    with pytest.raises(InvalidStatus) as refused:
        board_socket(server, session, origin="http://evil.example")
    assert refused.value.response.status_code == 403
