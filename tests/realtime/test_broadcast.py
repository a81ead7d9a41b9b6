"""What a board socket states about a frame's cards for its viewer: decided in Python, with no query."""

import re
from datetime import timedelta

from django.utils import timezone

from crm import services
from crm.queries import card_facts
from realtime import broadcast
from realtime.models import BoardEvent
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


def test_a_filtered_viewer_is_told_to_count_its_own_headers_and_an_unfiltered_one_is_not(alice, db):
    viewer = broadcast.Viewer.of(alice)
    assert head(viewer.frame(1, ""))["data-headers"] == "shared"
    viewer.filter_by("q=acme")
    assert head(viewer.frame(2, ""))["data-headers"] == "filtered"
    viewer.filter_by("sort=score")  # an order is not a filter: the shared counts are right for it
    assert head(viewer.frame(3, ""))["data-headers"] == "shared"


def test_a_moves_frame_counts_its_headers_as_the_unfiltered_board_does(stages, alice, on_commit):
    """The board without filters hides snoozed cards: its headers leave them out, its WIP count does not."""
    LeadFactory(stage=stages["proposal"], expected_value=5, snoozed_until=timezone.now() + timedelta(days=1))
    lead = LeadFactory(stage=stages["new"], owner=alice, expected_value=10)

    with on_commit():
        services.move_lead(
            lead.pk, actor=alice, stage_slug="proposal", placement=services.Placement(0), version=lead.version
        )

    frame = BoardEvent.objects.latest("pk").html
    proposal = re.search(r'id="col-proposal-header"([^>]*)>.*?</header>', frame, re.S)
    assert dict(re.findall(r'([\w-]+)="([^"]*)"', proposal.group(1)))["data-count"] == "1"
    assert 'data-all="2"' in proposal.group(1)
    assert "$10<" in proposal.group()
    assert 'id="col-new-header"' in frame
