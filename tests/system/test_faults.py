"""Proof under faults: real servers while Redis restarts and while the database is away.

Both run against services of the test's own making: a throwaway redis-server it kills and starts again, and
a TCP proxy in front of Postgres that it cuts, never the machine's shared Redis or Postgres.
"""

import json
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from crm.models import Lead
from realtime.models import BoardEvent
from tests.factories import LeadFactory
from tests.live import (
    Port,
    Proxy,
    RedisServer,
    board_socket,
    get,
    post,
    receive_until,
    release_database,
    requires_services,
    server_database_url,
    servers,
    session_cookie,
    wait_for,
)

pytestmark = [
    pytest.mark.system,
    pytest.mark.slow,
    requires_services,
    pytest.mark.django_db(transaction=True),
]

PRESENCE = 'id="presence"'


def card_frame(lead_id: int, version: int):
    return lambda text: f'id="lead-{lead_id}"' in text and f'data-version="{version}"' in text


def moved(server, user, lead: Lead, stage: str) -> Lead:
    """A move through the server, as a browser makes it; asserts it was saved, returns the lead after it."""
    lead.refresh_from_db()
    answer = post(
        server,
        f"/leads/{lead.pk}/move/",
        {"stage": stage, "index": 0, "version": lead.version},
        session_cookie(user),
    )
    assert answer.status == 200, (answer.status, answer.text[:300])
    lead.refresh_from_db()
    assert lead.stage.slug == stage
    return lead


# --- Redis restarted during activity -----------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    redis = RedisServer(tmp_path_factory.mktemp("redis"))
    redis.start()
    yield redis
    redis.kill()


@pytest.fixture(scope="module")
def redis_pair(django_db_setup, django_db_blocker, tmp_path_factory, redis_server):
    env = {"REDIS_URL": redis_server.url, "CHANNEL_PREFIX": "faults"}
    with servers(2, tmp_path_factory.mktemp("redis-faults"), env) as pair:
        yield pair
    with django_db_blocker.unblock():
        release_database()


def test_redis_restarted_moves_are_saved_and_their_frames_arrive_late_not_lost(
    redis_pair, redis_server, stages, alice, bob
):
    a, b = redis_pair
    lead = LeadFactory(name="Rita Restart", stage=stages["new"], owner=alice)
    with board_socket(b, session_cookie(bob)) as bobs:
        receive_until(bobs, lambda text: PRESENCE in text)
        lead = moved(a, alice, lead, "contacted")
        receive_until(bobs, card_frame(lead.pk, lead.version))  # server B hears server A through Redis
        heard = BoardEvent.objects.latest("pk").pk

        redis_server.kill()
        lead = moved(a, alice, lead, "proposal")  # saved while Redis is gone; its frame is numbered
        assert get(a, "/healthz").status == 503
        assert BoardEvent.objects.latest("pk").pk > heard
        redis_server.start()

        # The page keeps working, and the frame it missed arrives: with the next ping at the latest.
        wait_for(lambda: get(b, "/healthz").status == 200, what="server B reaches Redis again")
        bobs.send(json.dumps({"type": "ping"}))
        receive_until(bobs, card_frame(lead.pk, lead.version))

        # The layer itself recovers: moves made from now on reach B through Redis again.
        def heard_live() -> bool:
            nonlocal lead
            lead = moved(a, alice, lead, "new" if lead.stage.slug != "new" else "contacted")
            try:
                receive_until(bobs, card_frame(lead.pk, lead.version), timeout=5)
            except AssertionError:
                return False  # B re-subscribes a moment after Redis is back; this frame came by the database
            return True

        wait_for(heard_live, timeout=60, what="a move reached server B through Redis")

    # A socket that was away through it all catches up from its number on reconnecting.
    with board_socket(b, session_cookie(bob)) as returning:
        returning.send(json.dumps({"type": "hello", "last_seq": heard}))
        receive_until(returning, card_frame(lead.pk, lead.version))


# --- The database away for a few seconds ---------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_proxy(django_db_setup):
    proxy = Proxy(Port(int(connection.settings_dict["PORT"] or 5432)))
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def server_via_proxy(django_db_setup, django_db_blocker, tmp_path_factory, postgres_proxy):
    with django_db_blocker.unblock():
        url = urlsplit(server_database_url())
    through_proxy = url._replace(netloc=url.netloc.rsplit(":", 1)[0] + f":{postgres_proxy.port}")
    env = {"DATABASE_URL": urlunsplit(through_proxy), "DB_POOL_TIMEOUT": "2"}
    with servers(1, tmp_path_factory.mktemp("database-faults"), env) as (server,):
        yield server
    postgres_proxy.cut()  # its sessions end with the cut
    with django_db_blocker.unblock():
        release_database()


def test_database_away_answers_503_keeps_sockets_open_and_recovers_by_itself(
    server_via_proxy, postgres_proxy, stages, alice
):
    server = server_via_proxy
    lead = LeadFactory(name="Dora Downtime", stage=stages["new"], owner=alice)
    session = session_cookie(alice)
    with board_socket(server, session) as socket:
        receive_until(socket, lambda text: PRESENCE in text)
        postgres_proxy.cut()
        try:
            page = get(server, "/leads/kanban/", session)
            assert page.status == 503
            assert "Pipeline is briefly unavailable" in page.text
            assert "Traceback" not in page.text and "OperationalError" not in page.text
            assert page.headers["retry-after"] == "5"
            move = post(
                server,
                f"/leads/{lead.pk}/move/",
                {"stage": "contacted", "index": 0, "version": lead.version},
                session,
            )
            assert move.status == 503
            assert "database cannot be reached" in move.text
            health = get(server, "/healthz")
            assert health.status == 503
            assert json.loads(health.text)["database"]["ok"] is False
            # The socket's own database work (a ping's presence, written on the next tick) fails too, without
            # closing it.
            socket.send(json.dumps({"type": "ping"}))
            wait_for(lambda: "presence tick failed" in server.log_text(), what="the presence write failed")
        finally:
            postgres_proxy.restore()

        wait_for(lambda: get(server, "/healthz").status == 200, timeout=60, what="the server recovered")
        lead = moved(server, alice, lead, "contacted")
        receive_until(socket, card_frame(lead.pk, lead.version))  # the very socket that was open throughout
    assert get(server, "/leads/kanban/", session).status == 200
