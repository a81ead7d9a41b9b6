"""nginx in front of two servers, configured by the committed template: any process takes any socket, static
files come from disk, and a move through the proxy reaches every socket whichever server holds it."""

from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.factories import LeadFactory
from tests.live import (
    board_socket,
    get,
    nginx_in_front,
    post,
    receive_until,
    requires_services,
    session_cookie,
)

ESTABLISHED = "01"


def accepted_connections(port: int) -> int:
    """Open TCP connections this machine accepted on `port` (from /proc/net/tcp): nginx's, to that server."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.split(":")[1], 16) == port and state == ESTABLISHED:
            count += 1
    return count


pytestmark = [
    pytest.mark.system,
    pytest.mark.slow,
    requires_services,
    pytest.mark.django_db(transaction=True),
]


def test_nginx_spreads_sockets_over_both_servers_and_serves_static_files_itself(
    server_pair, tmp_path, stages, alice, bob
):
    with nginx_in_front(server_pair, tmp_path / "nginx") as front:
        (tmp_path / "nginx" / "static" / "only-on-disk.txt").write_text("from disk")
        assert get(front, "/static/only-on-disk.txt").text == "from disk"  # no web process has this file
        assert get(server_pair[0], "/static/only-on-disk.txt").status == 404
        assert get(front, "/healthz").status == 200

        lead = LeadFactory(name="Nina Nginx", stage=stages["new"], owner=alice)
        with ExitStack() as stack:
            sockets = [stack.enter_context(board_socket(front, session_cookie(bob))) for _ in range(4)]
            for socket in sockets:
                receive_until(socket, lambda text: 'id="presence"' in text)
            assert all(accepted_connections(server.port) for server in server_pair)  # no stickiness
            answer = post(
                front,
                f"/leads/{lead.pk}/move/",
                {"stage": "contacted", "index": 0, "version": lead.version},
                session_cookie(alice),
            )
            assert answer.status == 200
            for socket in sockets:
                receive_until(
                    socket, lambda text: f'id="lead-{lead.pk}"' in text and 'data-stage="contacted"' in text
                )
