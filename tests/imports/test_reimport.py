"""Importing what is already there: rows matching a lead by external_id (or, without one, email) update it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crm import events, importing
from crm.models import Lead, LeadSource
from tests.factories import LeadFactory, import_text

pytestmark = pytest.mark.django_db

FILE = (
    "external_id,name,email,company,value,stage,owner,source,created_at,tier\n"
    "A1,Ada Lovelace,ada@example.com,Engines,1200,contacted,alice,Fair,2024-01-02T10:00:00Z,gold\n"
    ",Bob Byte,bob@example.com,Bits,,won,,,2024-01-03T10:00:00Z,\n"
    ",Cy Cyan,cy@example.com,Cyan Co,50.5,new,bob,Web,,silver\n"
)


def snapshot() -> list[tuple]:
    return list(Lead.objects.order_by("pk").values_list("pk", "version", "updated_at", "attributes"))


def test_importing_the_same_file_twice_creates_nothing_and_changes_nothing(stages, alice, bob, manager):
    first = import_text(FILE, actor=manager)
    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    before, history = snapshot(), Lead.history.count()

    again = import_text(FILE, actor=manager)

    assert (again.created, again.updated, again.unchanged, again.count) == (0, 0, 3, 3)
    assert snapshot() == before  # not even a version bump
    assert Lead.history.count() == history
    assert importing.summary(again) == "Imported 3 leads: 0 created, 0 updated, 3 unchanged."


def test_a_row_with_a_known_external_id_updates_that_lead_and_records_it(stages, manager):
    lead = LeadFactory(
        name="Ada", external_id="A1", company="Old Co", phone="123", stage=stages["new"], expected_value=10
    )

    result = import_text(
        "external_id,name,company,value\nA1,Ada Lovelace,Engines,1200\nZ9,Zed,Zeds,1\n", actor=manager
    )

    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    assert result.updated_ids == [lead.pk]
    lead.refresh_from_db()
    assert (lead.name, lead.company, lead.expected_value) == ("Ada Lovelace", "Engines", Decimal("1200"))
    assert lead.phone == "123"  # not in the file: left alone
    assert lead.version == 2
    record = lead.history.latest()
    assert (record.history_user, record.history_change_reason, record.history_type) == (
        manager,
        "imported",
        "~",
    )
    assert (record.company, record.version) == ("Engines", 2)
    assert Lead.objects.filter(external_id="Z9").exists()


def test_without_an_external_id_a_row_matches_by_email_whatever_its_letter_case(stages):
    lead = LeadFactory(name="Bob", email="Bob@Example.com", stage=stages["new"], company="")

    result = import_text("name,email,company\nBob,bob@example.COM,Bits\n")

    assert (result.created, result.updated) == (0, 1)
    lead.refresh_from_db()
    assert (lead.company, lead.email) == ("Bits", "bob@example.COM")


def test_an_external_id_decides_even_when_the_email_is_another_leads(stages):
    LeadFactory(name="Bob", email="bob@example.com", stage=stages["new"])

    result = import_text("external_id,name,email\nB2,Bob Two,bob@example.com\n")

    assert (result.created, result.updated) == (1, 0)
    assert Lead.objects.count() == 2


def test_an_empty_cell_changes_nothing_and_attributes_are_merged(stages):
    lead = LeadFactory(
        name="Ada", external_id="A1", phone="123", stage=stages["new"], attributes={"tier": "gold", "age": 41}
    )

    import_text("external_id,phone,tier,city\nA1,,silver,Porto\n")

    lead.refresh_from_db()
    assert lead.phone == "123"
    assert lead.attributes == {"tier": "silver", "age": 41, "city": "Porto"}


def test_fields_that_describe_how_a_lead_came_in_are_read_for_new_leads_only(stages):
    lead = LeadFactory(name="Ada", external_id="A1", stage=stages["new"], lead_score=40)
    created = lead.created_at

    result = import_text("external_id,created_at,lead_score\nA1,2020-01-01T00:00:00Z,99\n")

    assert (result.updated, result.unchanged) == (0, 1)
    lead.refresh_from_db()
    assert (lead.created_at, lead.lead_score) == (created, 40)


def test_a_new_stage_moves_the_lead_to_the_end_of_that_column_and_closes_it(stages):
    LeadFactory(name="Already won", stage=stages["won"])
    lead = LeadFactory(name="Ada", external_id="A1", stage=stages["new"])

    import_text("external_id,stage\nA1,won\n")

    lead.refresh_from_db()
    assert lead.stage == stages["won"] and lead.closed_at is not None
    assert list(Lead.objects.filter(stage=stages["won"]).board_order().values_list("name", flat=True)) == [
        "Already won",
        "Ada",
    ]


def test_converted_alone_leaves_a_lead_that_is_already_won_where_it_is(stages):
    lead = LeadFactory(name="Ada", external_id="A1", stage=stages["won"])

    result = import_text("external_id,converted\nA1,yes\n")

    assert result.unchanged == 1
    assert Lead.objects.get(pk=lead.pk).version == lead.version


def test_a_new_source_is_created_for_an_updated_lead_too(stages):
    lead = LeadFactory(name="Ada", external_id="A1", stage=stages["new"], source=None)

    import_text("external_id,source\nA1,Trade fair\n")

    assert Lead.objects.get(pk=lead.pk).source == LeadSource.objects.get(name="Trade fair")


def test_one_event_names_the_created_and_the_updated_leads(stages, manager, published, on_commit):
    lead = LeadFactory(name="Ada", external_id="A1", stage=stages["new"])
    with on_commit():
        result = import_text("external_id,name\nA1,Ada L\nB2,Bob\n", actor=manager)

    assert published == [
        events.LeadsImported(actor_id=manager.pk, lead_ids=tuple(result.lead_ids), updated_ids=(lead.pk,))
    ]


def test_a_bad_row_leaves_the_matching_leads_as_they_were(stages):
    lead = LeadFactory(name="Ada", external_id="A1", stage=stages["new"], company="Old Co")

    with pytest.raises(importing.ImportRefused):
        import_text("external_id,company,value\nA1,New Co,1\nB2,Bits,lots\n")

    lead.refresh_from_db()
    assert (lead.company, lead.version) == ("Old Co", 1)
    assert Lead.objects.count() == 1


def test_two_rows_with_one_email_and_no_external_id_are_an_error(stages):
    with pytest.raises(importing.ImportRefused) as refused:
        import_text("name,email\nAda,ada@example.com\nBob,b@example.com\nAda again,ADA@example.com\n")

    assert [(e.line, e.message) for e in refused.value.errors] == [
        (
            4,
            "email “ADA@example.com” is also on line 2 "
            "(rows without an external_id are matched by email; give them one each)",
        )
    ]


@pytest.mark.parametrize(
    ("key", "text"),
    [("external_id", "external_id,name\nA1,Ada\n"), ("email", "name,email\nAda,ada@example.com\n")],
)
def test_a_row_matching_several_leads_is_an_error_naming_them(stages, key, text):
    one = LeadFactory(name="One", external_id="A1", email="ada@example.com", stage=stages["new"])
    two = LeadFactory(name="Two", external_id="A1", email="ADA@example.com", stage=stages["new"])

    with pytest.raises(importing.ImportRefused) as refused:
        import_text(text)

    value = "A1" if key == "external_id" else "ada@example.com"
    assert [(e.line, e.message) for e in refused.value.errors] == [
        (2, f"{key} “{value}” matches 2 leads (#{one.pk}, #{two.pk}); it must match one")
    ]


def test_a_dry_run_counts_and_writes_nothing(stages, alice, bob, manager):
    import_text(FILE, actor=manager)
    changed = FILE.replace("Engines", "Analytical Engines") + ",Dee,dee@example.com,,,,,,,\n"
    before, history = snapshot(), Lead.history.count()

    csv_file = importing.read_csv(changed.encode())
    mapping = importing.resolve_mapping(csv_file.columns)
    result = importing.import_leads(csv_file, mapping, actor=manager, dry_run=True)

    assert (result.created, result.updated, result.unchanged, result.dry_run) == (1, 1, 2, True)
    assert (snapshot(), Lead.history.count(), Lead.objects.count()) == (before, history, 3)
    assert importing.summary(result) == (
        "Dry run, nothing written: 4 leads checked; 1 would be created (1 in New), 1 updated, 2 unchanged."
    )


def test_the_imported_created_at_is_kept_on_a_new_lead(stages, alice, bob):
    import_text(FILE)
    assert Lead.objects.get(external_id="A1").created_at == datetime(2024, 1, 2, 10, tzinfo=UTC)


def test_two_rows_matching_one_lead_are_an_error(stages):
    lead = LeadFactory(name="Ada", external_id="A1", email="ada@example.com", stage=stages["new"])

    with pytest.raises(importing.ImportRefused) as refused:
        import_text("external_id,name,email\nA1,Ada,\n,Ada again,ada@example.com\n")

    assert [(e.line, e.message) for e in refused.value.errors] == [
        (3, f"email “ada@example.com” matches lead #{lead.pk}, as line 2 does")
    ]
