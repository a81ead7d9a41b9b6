"""crm.importing: reading files from other tools, mapping their columns, writing all the rows or none."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crm import events, importing, positions, services
from crm.models import Lead, LeadSource
from tests.factories import LeadFactory, SourceFactory, import_text

# --- Reading ----------------------------------------------------------------------------------------------


def test_commas_and_semicolons_are_both_detected():
    assert importing.read_csv(b"name,email\nAda,ada@example.com\n").delimiter == ","
    assert importing.read_csv(b'"name";"email"\n"Ada";"ada@example.com"\n').delimiter == ";"


def test_a_utf8_byte_order_mark_does_not_become_part_of_the_first_column():
    csv_file = importing.read_csv("\ufeffname;company\nZoë;Café Ltd\n".encode())

    assert csv_file.columns == ["name", "company"]
    assert list(csv_file.rows()) == [(2, ["Zoë", "Café Ltd"])]


def test_quoted_fields_keep_delimiters_quotes_and_newlines_and_lines_count_physically():
    text = 'name,notes\n"Ada, Countess","said ""hi""\nthen left"\nBob,plain\n'

    rows = list(importing.read_csv(text.encode()).rows())

    assert rows == [(2, ["Ada, Countess", 'said "hi"\nthen left']), (4, ["Bob", "plain"])]


def test_blank_lines_are_skipped_without_shifting_line_numbers():
    rows = list(importing.read_csv(b"name,phone\n\nAda,1\n\nBob,2\n").rows())

    assert rows == [(3, ["Ada", "1"]), (5, ["Bob", "2"])]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "binary"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("name,city\nJosé,Málaga\n".encode("latin-1"), "not UTF-8"),
        (b'{"leads": [{"name": "Ada"}]}\n', "no commas or semicolons"),
        (b"<!doctype html>\n<html><body>Leads</body></html>\n", "no commas or semicolons"),
        (b"just some words\nand more\n", "no commas or semicolons"),
        (b"name,,email\nAda,x,ada@example.com\n", "column 2 has none"),
        (b"name,Name2,name\nA,B,C\n", "repeats name"),
    ],
)
def test_what_is_not_a_csv_with_a_header_is_refused_with_a_reason(content, message):
    with pytest.raises(importing.ImportRefused, match=message):
        importing.read_csv(content)


def test_a_field_too_large_for_csv_is_refused_with_its_line():
    csv_file = importing.read_csv(b'name,notes\nAda,short\nBob,"' + b"x" * 200_000 + b'"\n')

    with pytest.raises(
        importing.ImportRefused, match="Line 3 is not valid CSV: field larger than field limit"
    ):
        list(csv_file.rows())


def test_a_file_with_only_a_byte_order_mark_is_refused_as_empty():
    with pytest.raises(importing.ImportRefused, match="empty"):
        importing.read_csv(b"\xef\xbb\xbf\r\n")


# --- Mapping ----------------------------------------------------------------------------------------------


def test_headers_named_like_fields_map_to_them_whatever_their_case_and_the_rest_become_attributes():
    columns = ["External ID", "NAME", "e-mail", "Expected value", "Converted", "industry"]

    mapping = importing.auto_mapping(columns)

    assert mapping == {
        "External ID": "external_id",
        "NAME": "name",
        "e-mail": "attribute",
        "Expected value": "value",
        "Converted": "converted",
        "industry": "attribute",
    }


def test_map_and_ignore_override_the_automatic_mapping():
    columns = ["name", "Full name", "y", "duration"]

    mapping = importing.resolve_mapping(columns, {"Full name": "name", "Y": "converted"}, ["duration"])

    assert mapping == {"name": "attribute", "Full name": "name", "y": "converted", "duration": "ignore"}


def test_a_mapped_column_missing_from_the_file_is_named_with_the_columns_the_file_has():
    with pytest.raises(importing.ImportRefused) as refused:
        importing.resolve_mapping(["Client", "Mail"], {"Customer": "name"})

    assert refused.value.message == "The file has no column “Customer”. Its columns are: Client, Mail."


def test_an_ignored_column_missing_from_the_file_is_refused_too():
    with pytest.raises(importing.ImportRefused, match="no column “duration”"):
        importing.resolve_mapping(["name"], ignored=["duration"])


def test_a_mapping_to_an_unknown_field_lists_the_known_ones():
    with pytest.raises(importing.ImportRefused) as refused:
        importing.resolve_mapping(["Client"], {"Client": "customer"})

    assert "“customer” is not a lead field" in refused.value.message
    assert "external_id, name, email" in refused.value.message


def test_two_columns_mapped_to_one_field_are_refused():
    with pytest.raises(importing.ImportRefused, match="“A” and “B” are both mapped to name"):
        importing.resolve_mapping(["A", "B"], {"A": "name", "B": "name"})


# --- Rows -------------------------------------------------------------------------------------------------


def test_rows_become_leads_with_their_fields(stages, alice):
    text = (
        "external_id,name,email,phone,company,source,owner,value,created_at\n"
        "crm-1,Ada Lovelace,ada@example.com,+44 20,Engines Ltd,Trade show,alice,1250.5,2024-03-01T09:30\n"
    )

    import_text(text)

    lead = Lead.objects.get(external_id="crm-1")
    assert (lead.name, lead.email, lead.phone, lead.company) == (
        "Ada Lovelace",
        "ada@example.com",
        "+44 20",
        "Engines Ltd",
    )
    assert lead.source.name == "Trade show"
    assert lead.owner == alice
    assert lead.expected_value == Decimal("1250.50")
    assert lead.created_at == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    assert (lead.stage, lead.closed_at, lead.version) == (stages["new"], None, 1)


def test_an_existing_source_is_reused_whatever_its_case(stages):
    referral = SourceFactory(name="Referral")

    import_text("name,source\nAda,referral\nBob,REFERRAL\n")

    assert LeadSource.objects.count() == 1
    assert set(Lead.objects.values_list("source", flat=True)) == {referral.pk}


def test_unmapped_columns_become_attributes_numbers_as_numbers(stages):
    text = "name,age,balance,ratio,zip,code,job,note\nAda,42,-1,3.5,007,1e3,admin.,\n"

    import_text(text)

    assert Lead.objects.get().attributes == {
        "age": 42,
        "balance": -1,
        "ratio": 3.5,
        "zip": "007",
        "code": "1e3",
        "job": "admin.",
    }


def test_ignored_columns_are_not_kept(stages):
    import_text("name,duration,job\nAda,261,admin.\n", ignored=["duration"])

    assert Lead.objects.get().attributes == {"job": "admin."}


@pytest.mark.parametrize(
    ("converted", "stage"),
    [
        ("1", "won"),
        ("yes", "won"),
        ("TRUE", "won"),
        ("Yes", "won"),
        ("0", "lost"),
        ("no", "lost"),
        ("False", "lost"),
        ("", "new"),
    ],
)
def test_converted_closes_the_lead_as_won_or_lost_and_empty_leaves_it_open(stages, converted, stage):
    import_text(f"name,converted\nAda,{converted}\n")

    lead = Lead.objects.get()
    assert lead.stage == stages[stage]
    assert (lead.closed_at is not None) == (stage != "new")


def test_the_stage_column_takes_a_slug_or_a_name(stages):
    import_text("name,stage\nAda,contacted\nBob,Proposal\n")

    assert dict(Lead.objects.values_list("name", "stage__slug")) == {"Ada": "contacted", "Bob": "proposal"}


def test_a_lead_without_a_name_column_is_named_by_its_external_id_or_its_line(stages):
    import_text("external_id,company\nX-9,Acme\n,Globex\n")

    assert sorted(Lead.objects.values_list("name", flat=True)) == ["Imported lead (line 3)", "X-9"]


def test_leads_go_after_the_last_card_of_their_stage_in_file_order(stages):
    last = LeadFactory(stage=stages["new"], position=5 * positions.STEP)

    import_text("name\nFirst\nSecond\n")

    column = list(Lead.objects.filter(stage=stages["new"]).values_list("name", "position"))
    assert column == [
        (last.name, 5 * positions.STEP),
        ("First", 6 * positions.STEP),
        ("Second", 7 * positions.STEP),
    ]


def test_the_import_is_in_each_leads_history_with_the_importing_user(stages, manager):
    import_text("name,created_at\nAda,2023-12-24\nBob,\n", actor=manager)

    for lead in Lead.objects.all():
        (record,) = lead.history.all()
        assert (record.history_user, record.history_change_reason, record.history_type) == (
            manager,
            "imported",
            "+",
        )
        assert (record.name, record.created_at, record.stage_id) == (
            lead.name,
            lead.created_at,
            lead.stage_id,
        )
    assert Lead.objects.get(name="Ada").created_at == datetime(2023, 12, 24, tzinfo=UTC)


def test_one_leads_imported_event_goes_out_on_commit(stages, manager, published, on_commit):
    with on_commit():
        result = import_text("name\nAda\nBob\n", actor=manager)

    assert published == [events.LeadsImported(actor_id=manager.pk, lead_ids=tuple(result.lead_ids))]
    assert sorted(result.lead_ids) == sorted(Lead.objects.values_list("pk", flat=True))


def test_progress_is_reported_as_rows_are_written(stages, monkeypatch):
    monkeypatch.setattr(services, "BULK_BATCH", 2)
    reports = []
    csv_file = importing.read_csv(b"name\nA\nB\nC\nD\nE\n")

    importing.import_leads(csv_file, {"name": "name"}, progress=lambda *report: reports.append(report))

    assert [r for r in reports if r[0] == "writing"] == [
        ("writing", 0, 5),
        ("writing", 2, 5),
        ("writing", 4, 5),
        ("writing", 5, 5),
    ]


# --- Bad rows: reported by line, nothing imported -------------------------------------------------------


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(stages, alice):
    text = (
        "name,owner,value,converted,email,created_at,source\n"
        "Ada,alice,10,yes,ada@example.com,2024-01-01,Brand new source\n"
        "Bob,alice,ten,,bob@example.com,,\n"
        "Cy,zed,1,no,,,\n"
        '"Di\nDoe",alice,1,maybe,,,\n'
        "Ed,,1,,not-an-email,,\n"
        "Flo,,1,,,2024-13-45,\n"
        "Gus,,1\n"
    )

    with pytest.raises(importing.ImportRefused) as refused:
        import_text(text)

    assert refused.value.message == "Nothing was imported: 6 rows have errors."
    assert [(e.line, e.message) for e in refused.value.errors] == [
        (3, "value “ten”: Enter a number."),
        (4, "owner “zed” is not a username here"),
        (5, "converted “maybe” is not yes/no, 1/0 or true/false"),
        (7, "email “not-an-email”: Enter a valid email address."),
        (8, "created_at “2024-13-45”: Enter a valid date/time."),
        (9, "has 3 values but the header has 7 columns"),
    ]
    assert not Lead.objects.exists()
    assert not LeadSource.objects.exists()


def test_a_value_longer_than_its_field_is_an_error(stages):
    with pytest.raises(importing.ImportRefused) as refused:
        import_text("name,phone\nAda," + "1" * 41 + "\n")

    assert refused.value.errors[0].message == (
        "phone “" + "1" * 40 + "…”: Ensure this value has at most 40 characters (it has 41)."
    )


def test_only_the_first_fifty_errors_are_listed_with_the_count_of_all(stages):
    text = "name,value\n" + "".join(f"Lead {i},lots\n" for i in range(60))

    with pytest.raises(importing.ImportRefused) as refused:
        import_text(text)

    assert refused.value.error_count == 60
    assert len(refused.value.errors) == 50
    assert refused.value.lines()[-1] == "… and 10 more"


def test_an_external_id_twice_in_the_file_is_an_error_on_the_second_line(stages):
    with pytest.raises(importing.ImportRefused) as refused:
        import_text("external_id,name\nA1,Ada\nB2,Bob\nA1,Ada again\n")

    assert [(e.line, e.message) for e in refused.value.errors] == [(4, "external_id “A1” is also on line 2")]
    assert not Lead.objects.exists()


def test_converted_contradicting_the_stage_column_is_an_error(stages):
    with pytest.raises(importing.ImportRefused) as refused:
        import_text("name,stage,converted\nAda,won,0\n")

    assert refused.value.errors[0].message == "converted “0” contradicts stage “Won” (won)"


def test_a_file_with_a_header_and_no_rows_imports_nothing_and_says_so(stages):
    with pytest.raises(importing.ImportRefused, match="header but no rows"):
        import_text("name,email\n")


def test_without_stages_every_row_says_there_is_nowhere_to_put_it(db):
    with pytest.raises(importing.ImportRefused) as refused:
        import_text("name\nAda\n")

    assert refused.value.errors[0].message == "there is no open stage to put the lead in"


def test_control_characters_anywhere_in_a_row_are_refused_with_the_line(stages):
    padding = "".join(f"Lead {i},Acme,fine\n" for i in range(600))  # past the first 8 KB's binary check
    text = "name,company,notes\n" + padding + "Bob,Ac\x00me,x\n" + "Cy,Co,bell\x07\n"

    with pytest.raises(importing.ImportRefused) as refused:
        import_text(text)

    assert [(e.line, e.message) for e in refused.value.errors] == [
        (602, "company contains a control character (U+0000), which a lead cannot hold"),
        (603, "notes contains a control character (U+0007), which a lead cannot hold"),
    ]
    assert not Lead.objects.exists()
