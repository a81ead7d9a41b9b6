"""What a board socket states about a frame's cards for its viewer: decided in Python, with no query."""

import re

from crm.queries import card_facts
from realtime import broadcast
from tests.factories import LeadFactory


def head(frame: str) -> dict[str, str]:
    return dict(re.findall(r'([\w-]+)="([^"]*)"', frame[: frame.index("</div>")]))


def test_a_viewer_states_a_frame_for_its_user_and_filters_without_a_query(
    stages, alice, bob, django_assert_num_queries
):
    hers, his = LeadFactory(stage=stages["new"], owner=alice), LeadFactory(stage=stages["new"], owner=bob)
    nobodys = LeadFactory(stage=stages["new"], owner=None)
    cards = [card_facts(lead) for lead in (hers, his, nobodys)] * 17  # past a bulk frame's 50 cards
    viewer = broadcast.Viewer.of(alice)
    viewer.filter_by("mine=1")

    with django_assert_num_queries(0):
        frame = viewer.frame(7, "<article></article>", cards)

    assert head(frame)["data-seq"] == "7"
    assert set(head(frame)["data-can-move"].split()) == {str(hers.pk)}
    assert set(head(frame)["data-hidden"].split()) == {str(his.pk), str(nobodys.pk)}
    assert frame.endswith("</div><article></article>")


def test_a_frame_without_cards_states_none(alice, db):
    frame = broadcast.Viewer.of(alice).frame(3, '<div id="board-refresh"></div>')

    assert (head(frame)["data-can-move"], head(frame)["data-hidden"]) == ("", "")
