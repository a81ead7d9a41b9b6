"""A socket lives as long as its log-in: logout, a deleted session, deactivation and a lost role close it."""

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.test import Client

from crm.models import MANAGERS_GROUP
from realtime.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from tests.sockets import closed_with

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(socket) -> str:
    cookie = dict(socket.scope["headers"])[b"cookie"].decode()
    return cookie.split("sessionid=", 1)[1]


def log_out(socket) -> None:
    """POST /accounts/logout/ from the browser the socket belongs to (the same session cookie)."""
    browser = Client()
    browser.cookies["sessionid"] = session_cookie(socket)
    assert browser.post("/accounts/logout/").status_code == 302


async def test_logging_out_closes_that_browsers_board_socket(open_socket, alice):
    board = await open_socket(alice)

    await database_sync_to_async(log_out)(board)

    assert await closed_with(board) == CLOSE_UNAUTHENTICATED


async def test_logging_out_in_one_browser_leaves_the_other_browsers_socket_open(open_socket, alice):
    laptop = await open_socket(alice)
    phone = await open_socket(alice)

    await database_sync_to_async(log_out)(laptop)

    assert await closed_with(laptop) == CLOSE_UNAUTHENTICATED
    assert await phone.receive_nothing()


async def test_a_deleted_session_closes_its_sockets(open_socket, alice):
    board = await open_socket(alice)

    await database_sync_to_async(lambda: Session.objects.get(session_key=session_cookie(board)).delete())()

    assert await closed_with(board) == CLOSE_UNAUTHENTICATED


async def test_deactivating_a_user_closes_every_socket_of_theirs(open_socket, connect, alice):
    board = await open_socket(alice)
    mine, accepted, _ = await connect(alice, path="/ws/me/")
    assert accepted

    def deactivate():
        alice.is_active = False
        alice.save()

    await database_sync_to_async(deactivate)()

    assert await closed_with(board) == CLOSE_UNAUTHENTICATED
    assert await closed_with(mine) == CLOSE_UNAUTHENTICATED


async def test_a_manager_who_loses_the_role_loses_the_dashboard_but_keeps_the_board(
    open_socket, connect, manager
):
    dashboard, accepted, _ = await connect(manager, path="/ws/dashboard/")
    assert accepted
    board = await open_socket(manager)

    await database_sync_to_async(lambda: manager.groups.remove(Group.objects.get(name=MANAGERS_GROUP)))()

    assert await closed_with(dashboard) == CLOSE_FORBIDDEN
    assert await board.receive_nothing()


async def test_an_expired_session_is_found_by_the_periodic_check(connect, alice, settings):
    settings.SOCKET_SESSION_RECHECK_SECONDS = 0.2
    board, accepted, _ = await connect(alice)
    assert accepted

    def expire():
        Session.objects.filter(session_key=session_cookie(board)).update(expire_date="2000-01-01T00:00:00Z")

    await database_sync_to_async(expire)()

    assert await closed_with(board) == CLOSE_UNAUTHENTICATED
