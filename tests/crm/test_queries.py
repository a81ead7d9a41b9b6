"""The board's read models: paged columns, keyset "load more" and the filters."""

import json
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm import queries, services
from crm.models import Lead
from crm.queries import BoardFilter, card_facts
from tests.factories import LeadFactory, SourceFactory


@pytest.fixture
def page_of_three(settings):
    settings.BOARD_PAGE_SIZE = 3


def cards_of(columns, slug) -> list[int]:
    return [lead.pk for lead in next(c for c in columns if c.stage.slug == slug).cards]


def test_board_lists_every_stage_in_order_even_when_empty(stages):
    assert [column.stage.slug for column in queries.board(BoardFilter())] == list(stages)


def test_board_cards_come_in_position_order(stages):
    low, high = LeadFactory(stage=stages["new"], position=10), LeadFactory(stage=stages["new"], position=-10)
    assert cards_of(queries.board(BoardFilter()), "new") == [high.pk, low.pk]


def test_equal_positions_are_ordered_by_id(stages):
    first, second = LeadFactory.create_batch(2, stage=stages["new"], position=5)
    assert cards_of(queries.board(BoardFilter()), "new") == [first.pk, second.pk]


def test_board_shows_one_page_per_column_and_says_there_is_more(stages, page_of_three):
    leads = LeadFactory.create_batch(4, stage=stages["new"])
    new = queries.board(BoardFilter())[0]
    assert ([lead.pk for lead in new.cards], new.has_more) == ([lead.pk for lead in leads[:3]], True)


def test_a_column_that_fits_on_one_page_has_no_more(stages, page_of_three):
    LeadFactory.create_batch(3, stage=stages["new"])
    assert queries.board(BoardFilter())[0].has_more is False


def test_board_counts_and_sums_the_whole_column_not_just_the_page(stages, page_of_three):
    LeadFactory.create_batch(5, stage=stages["contacted"], expected_value=100)
    contacted = queries.board(BoardFilter())[1]
    assert (len(contacted.cards), contacted.count, contacted.total_value) == (3, 5, 500)


def test_a_column_at_its_wip_limit_is_full(stages):
    LeadFactory.create_batch(3, stage=stages["proposal"])
    assert [column.full for column in queries.board(BoardFilter())] == [False, False, True, False, False]


def test_column_page_continues_after_the_last_card_without_overlap(stages, page_of_three):
    leads = [lead.pk for lead in LeadFactory.create_batch(7, stage=stages["new"])]
    first, more = queries.column_page(stages["new"], BoardFilter(), None)
    last = first[-1]
    second, still_more = queries.column_page(stages["new"], BoardFilter(), (last.position, last.pk))
    last = second[-1]
    third, done = queries.column_page(stages["new"], BoardFilter(), (last.position, last.pk))
    assert [lead.pk for lead in [*first, *second, *third]] == leads
    assert (more, still_more, done) == (True, True, False)


def test_column_page_breaks_position_ties_by_id(stages, page_of_three):
    """Keys may tie for a moment; the keyset must not skip or repeat a card sharing its neighbour's key."""
    leads = [lead.pk for lead in LeadFactory.create_batch(5, stage=stages["new"], position=0)]
    first, _ = queries.column_page(stages["new"], BoardFilter(), None)
    second, _ = queries.column_page(stages["new"], BoardFilter(), (0, first[-1].pk))
    assert [lead.pk for lead in [*first, *second]] == leads


def test_column_page_stays_in_its_column(stages, page_of_three):
    mine = LeadFactory(stage=stages["won"])
    LeadFactory(stage=stages["lost"])
    assert queries.column_page(stages["won"], BoardFilter(), None) == ([mine], False)


def test_mine_shows_only_the_users_leads(stages, alice, bob):
    hers = LeadFactory(stage=stages["new"], owner=alice)
    LeadFactory(stage=stages["new"], owner=bob)
    LeadFactory(stage=stages["new"], owner=None)
    assert cards_of(queries.board(BoardFilter(owner_id=alice.pk)), "new") == [hers.pk]


def test_source_filter_shows_only_that_sources_leads(stages, source):
    referred = LeadFactory(stage=stages["new"], source=source)
    LeadFactory(stage=stages["new"], source=SourceFactory(name="Website"))
    assert cards_of(queries.board(BoardFilter(source_id=source.pk)), "new") == [referred.pk]


@pytest.mark.parametrize("text", ["globex", "GLOBEX", "Kemi", "kemi.rossi@"])
def test_text_search_matches_name_company_or_email_ignoring_case(stages, text):
    found = LeadFactory(
        stage=stages["new"], name="Kemi Rossi", company="Globex", email="kemi.rossi@globex.com"
    )
    LeadFactory(stage=stages["new"], name="Luca Berg", company="Hooli", email="luca@hooli.com")
    assert cards_of(queries.board(BoardFilter(text=text)), "new") == [found.pk]


def test_filters_combine(stages, alice, bob, source):
    wanted = LeadFactory(stage=stages["new"], owner=alice, source=source, company="Globex")
    LeadFactory(stage=stages["new"], owner=bob, source=source, company="Globex")
    LeadFactory(stage=stages["new"], owner=alice, company="Globex")
    LeadFactory(stage=stages["new"], owner=alice, source=source, company="Hooli")
    board_filter = BoardFilter(owner_id=alice.pk, source_id=source.pk, text="glob")
    assert cards_of(queries.board(board_filter), "new") == [wanted.pk]


def test_filters_apply_to_the_next_page_too(stages, alice, bob, page_of_three):
    hers = [LeadFactory(stage=stages["new"], owner=owner) for owner in [alice, bob] * 4][::2]
    first, more = queries.column_page(stages["new"], BoardFilter(owner_id=alice.pk), None)
    rest, _ = queries.column_page(
        stages["new"], BoardFilter(owner_id=alice.pk), (first[-1].position, first[-1].pk)
    )
    assert ([lead.pk for lead in [*first, *rest]], more) == ([lead.pk for lead in hers], True)


def test_a_filtered_board_pages_the_matches(stages, alice, bob, page_of_three):
    """has_more counts matching cards: three of alice's leads among bob's fit on one page."""
    for owner in [alice, bob, bob, alice, bob, alice, bob]:
        LeadFactory(stage=stages["new"], owner=owner)
    new = queries.board(BoardFilter(owner_id=alice.pk))[0]
    assert (len(new.cards), new.has_more) == (3, False)


def test_board_filter_reads_the_query_string(rf, alice, source):
    request = rf.get("/leads/kanban/", {"mine": "1", "source": str(source.pk), "q": "  acme  "})
    request.user = alice
    assert BoardFilter.from_request(request) == BoardFilter(
        owner_id=alice.pk, source_id=source.pk, text="acme"
    )


def test_board_filter_ignores_a_source_that_is_not_a_number(rf, alice):
    request = rf.get("/leads/kanban/", {"source": "1 OR 1=1"})
    request.user = alice
    assert BoardFilter.from_request(request) == BoardFilter()


def test_the_last_change_names_who_moved_the_card_and_where(stages, alice):
    lead = LeadFactory(stage=stages["new"])
    services.move_lead(lead.pk, actor=alice, stage_slug="won", placement=services.Placement(0), version=1)
    lead.refresh_from_db()
    assert queries.describe_last_change(lead).startswith("Alice Martin moved it to Won ")


def test_the_last_change_names_who_logged_an_interaction(stages, bob):
    """A logged call makes a drag stale too, so the conflict message must read well for it."""
    lead = LeadFactory(stage=stages["new"])
    services.log_interaction(lead.pk, actor=bob, kind="call")
    assert queries.describe_last_change(lead).startswith("Bob Nguyen logged a call on it ")


def test_a_change_without_a_recorded_reason_reads_as_changed(stages):
    """Rows written outside the services (an import, the admin) carry no reason and no user."""
    lead = LeadFactory(stage=stages["new"])
    assert re.fullmatch(r"someone changed it \d+\xa0minutes ago", queries.describe_last_change(lead))


# --- One filter, two readings: the database's (`apply`) and a card's (`matches`) -------------------

# ASCII letters in both cases (SQLite's LIKE folds only those), an accented letter and LIKE's wildcards.
WORDS = st.text(alphabet="aAbB é%_", max_size=4)


def test_a_filter_keeps_in_memory_exactly_the_cards_it_keeps_in_the_database(stages, alice, bob, source):
    users = {"alice": alice, "bob": bob}
    sources = {"referral": source, "website": SourceFactory(name="Website")}
    leads = st.lists(
        st.fixed_dictionaries(
            {
                "owner": st.sampled_from([None, *users]),
                "source": st.sampled_from([None, *sources]),
                "name": WORDS,
                "company": WORDS,
                "email": WORDS,
            }
        ),
        max_size=6,
    )
    filters = st.builds(
        BoardFilter,
        owner_id=st.sampled_from([None, alice.pk, bob.pk]),
        source_id=st.sampled_from([None, source.pk]),
        text=st.text(alphabet="aAbB é%_", max_size=2),
    )

    @given(specs=leads, board_filter=filters)
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def agree(specs, board_filter):
        with transaction.atomic():
            made = [
                LeadFactory(
                    stage=stages["new"],
                    **{**spec, "owner": users.get(spec["owner"]), "source": sources.get(spec["source"])},
                )
                for spec in specs
            ]
            in_database = set(board_filter.apply(Lead.objects.all()).values_list("pk", flat=True))
            # As a socket sees a card: its facts, through JSON (the channel layer and the stored frame).
            facts = [SimpleNamespace(**json.loads(json.dumps(card_facts(lead)))) for lead in made]
            assert {card.id for card in facts if board_filter.matches(card)} == in_database
            assert {lead.pk for lead in made if board_filter.matches(lead)} == in_database
            transaction.set_rollback(True)

    agree()


# --- Headers that follow the filters, and columns sorted otherwise than by position --------------------


def test_a_filtered_boards_headers_count_and_sum_only_the_matches(stages, alice, bob):
    LeadFactory(stage=stages["proposal"], owner=alice, expected_value=100)
    LeadFactory.create_batch(2, stage=stages["proposal"], owner=bob, expected_value=1000)
    proposal = queries.board(BoardFilter(owner_id=alice.pk))[2]
    assert (proposal.count, proposal.total_value, proposal.all_count) == (1, 100, 3)


def test_the_wip_limit_counts_every_card_in_the_stage_whatever_the_filters(stages, alice, bob):
    LeadFactory.create_batch(3, stage=stages["proposal"], owner=bob)
    assert queries.board(BoardFilter(owner_id=alice.pk))[2].full is True


def test_the_unfiltered_board_leaves_snoozed_cards_out_of_its_headers(stages):
    LeadFactory(stage=stages["new"], expected_value=10)
    LeadFactory(stage=stages["new"], expected_value=5, snoozed_until=timezone.now() + timedelta(days=1))
    new = queries.board(BoardFilter())[0]
    assert (new.count, new.total_value, new.all_count) == (1, 10, 2)


@pytest.fixture
def scored(stages):
    """Four cards in New in position order, with scores, values and activity in other orders."""
    now, new = timezone.now(), stages["new"]
    return [
        LeadFactory(stage=new, lead_score=None, expected_value=50, last_interaction_at=now),
        LeadFactory(stage=new, lead_score=80, expected_value=10, last_interaction_at=None),
        LeadFactory(stage=new, lead_score=20, expected_value=90, last_interaction_at=now - timedelta(1)),
        LeadFactory(stage=new, lead_score=80, expected_value=10, last_interaction_at=now - timedelta(2)),
    ]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("position", [0, 1, 2, 3]),
        ("score", [1, 3, 2, 0]),
        ("value", [2, 0, 1, 3]),
        ("activity", [0, 2, 3, 1]),
    ],
)
def test_a_sorted_column_puts_the_highest_first_and_ties_and_blanks_after(stages, scored, sort, order):
    """Ties break by id; a missing score or activity comes last."""
    board_sort = queries.BoardSort.from_query({"sort": sort})
    columns = queries.board(BoardFilter(), board_sort=board_sort)
    assert cards_of(columns, "new") == [scored[i].pk for i in order]


@pytest.mark.parametrize("sort", ["position", "score", "value", "activity"])
def test_a_sorted_column_pages_on_without_repeating_or_skipping_a_card(stages, scored, page_of_three, sort):
    board_sort = queries.BoardSort.from_query({"sort": sort})
    new = queries.board(BoardFilter(), board_sort=board_sort)[0]
    after = queries.parse_after(new.after, board_sort)
    rest, more = queries.column_page(stages["new"], BoardFilter(), after, board_sort)
    whole = cards_of(queries.board(BoardFilter(), page_size=10, board_sort=board_sort), "new")
    assert ([lead.pk for lead in [*new.cards, *rest]], new.has_more, more) == (whole, True, False)


def test_an_unknown_sort_is_the_order_by_position():
    assert queries.BoardSort.from_query({"sort": "id; drop table"}) == queries.BoardSort("position")


@pytest.mark.parametrize(
    ("sort", "after"), [("score", "high:1"), ("value", "1e:2"), ("activity", "monday:3"), ("position", "½:2")]
)
def test_a_page_key_that_is_not_the_sorts_is_refused(sort, after):
    with pytest.raises(ValueError):
        queries.parse_after(after, queries.BoardSort(sort))
