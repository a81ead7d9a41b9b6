"""The production path of background scoring: a change on a server, a Dramatiq worker process on Redis,
the new score on every board."""

import os
import re
import signal
import subprocess
import sys

import pytest
from django.core.cache import cache

from tests.factories import LeadFactory
from tests.live import (
    BASE_DIR,
    board_socket,
    post,
    receive_until,
    requires_services,
    server_database_url,
    session_cookie,
)
from workers import actors

pytestmark = [
    pytest.mark.system,
    pytest.mark.slow,
    requires_services,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def worker_process(server_pair, tmp_path_factory):
    """`manage.py rundramatiq` on the test database and REDIS_URL, as production runs its workers."""
    from django.conf import settings

    var_dir = tmp_path_factory.mktemp("worker")
    env = {
        **{name: value for name, value in os.environ.items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": server_database_url(),
        "DJANGO_SETTINGS_MODULE": "project.settings",  # production's: Dramatiq on REDIS_URL, not the stub
        "PIPELINE_VAR_DIR": str(var_dir),  # no stored model: the heuristic scores
        "SECRET_KEY": settings.SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    log = var_dir / "worker.log"
    command = [sys.executable, "manage.py", "rundramatiq", "--processes", "1", "--threads", "2"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    yield process
    os.killpg(process.pid, signal.SIGTERM)  # the command forks worker processes: stop the whole group
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def test_a_logged_call_is_scored_by_a_worker_process_and_the_score_reaches_the_board(
    server_pair, worker_process, stages, alice, bob
):
    server = server_pair[0]
    cache.delete(actors.SCHEDULED_KEY)  # a run scheduled by an earlier test's server must not swallow ours
    lead = LeadFactory(name="Olga Berg", stage=stages["new"], owner=alice)
    assert lead.lead_score is None
    with board_socket(server, session_cookie(bob)) as bob_socket:
        receive_until(bob_socket, lambda text: 'id="presence"' in text)
        logged = post(server, f"/leads/{lead.pk}/interactions/", {"kind": "meeting"}, session_cookie(alice))
        assert logged.status == 200
        frame = receive_until(
            bob_socket, lambda text: f'id="lead-{lead.pk}"' in text and 'class="score none"' not in text, 60
        )
    lead.refresh_from_db()
    assert lead.score_source == "heuristic"
    assert re.search(rf'<span class="score [^"]*"[^>]*>{lead.lead_score}</span>', frame)
    assert lead.history.filter(history_change_reason="rescored").exists()
