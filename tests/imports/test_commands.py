"""`import_leads` and `export_leads`, as a person runs them."""

import io

import pytest
from django.core.management import CommandError, call_command

from crm.models import Lead, LeadSource
from tests.factories import LeadFactory


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_import_says_how_it_mapped_the_columns_and_what_it_imported(stages, write_csv):
    path = write_csv("Name;Company;y;duration;job\nAda;Engines;yes;261;admin.\nBob;;no;15;\nCy;;;3;\n")

    output = run("import_leads", str(path), "--map", "y=converted", "--ignore", "duration")

    assert "Fields: Name → name, Company → company, y → converted" in output
    assert "Attributes: job" in output
    assert "Ignored: duration" in output
    assert "Imported 3 leads: 3 created (1 in Won, 1 in Lost, 1 in New), 0 updated, 0 unchanged." in output
    assert Lead.objects.count() == 3


def test_importing_the_same_file_again_creates_nothing_and_says_so(stages, write_csv):
    path = write_csv("external_id,name,email\nA1,Ada,ada@example.com\n,Bob,bob@example.com\n")
    run("import_leads", str(path))

    output = run("import_leads", str(path))

    assert "Imported 2 leads: 0 created, 0 updated, 2 unchanged." in output
    assert Lead.objects.count() == 2
    assert "neither an external_id nor an email" not in output


def test_rows_nothing_can_match_are_named_after_the_import(stages, write_csv):
    output = run("import_leads", str(write_csv("name,email\nAda,ada@example.com\nBob,\n")))

    assert "1 row has neither an external_id nor an email: importing the file again would create" in output


def test_a_dry_run_counts_as_the_import_would_and_writes_nothing(stages, alice, write_csv):
    LeadFactory(name="Ada", email="ada@example.com", stage=stages["new"])
    LeadFactory(name="Cy", external_id="C3", stage=stages["new"])
    path = write_csv(
        "external_id,name,email,source\n,Ada,ada@example.com,\nC3,Cy,,Fair\n,Dee,dee@example.com,Fair\n"
    )
    before = list(Lead.objects.values_list("pk", "version", "name", "email", "source").order_by("pk"))

    output = run("import_leads", str(path), "--dry-run", "--actor", "alice")

    assert (
        "Dry run, nothing written: 3 leads checked; 1 would be created (1 in New), 1 updated, 1 unchanged."
        in output
    )
    assert list(Lead.objects.values_list("pk", "version", "name", "email", "source").order_by("pk")) == before
    assert not LeadSource.objects.exists()  # not even the new source


def test_a_dry_run_reports_bad_rows_as_the_import_does(stages, write_csv):
    with pytest.raises(CommandError, match=r"line 3: value “lots”: Enter a number\."):
        run("import_leads", str(write_csv("name,value\nAda,1\nBob,lots\n")), "--dry-run")


def test_import_names_the_actor_in_history(stages, manager, write_csv):
    run("import_leads", str(write_csv("name\nAda\n")), "--actor", "manager")

    assert Lead.objects.get().history.get().history_user == manager


def test_import_lists_bad_rows_by_line_and_imports_nothing(stages, write_csv):
    path = write_csv("name,value\nAda,1\nBob,lots\nCy,2\n")

    with pytest.raises(CommandError) as error:
        run("import_leads", str(path))

    assert str(error.value) == (
        "Nothing was imported: 1 row has errors.\nline 3: value “lots”: Enter a number."
    )
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "Customer=name"], "The file has no column “Customer”. Its columns are: name, value."),
        (["--map", "value=amount"], "“amount” is not a lead field"),
        (["--map", "value"], "--map takes COLUMN=FIELD"),
        (["--ignore", "duration"], "no column “duration”"),
        (["--actor", "nobody"], "there is no user “nobody”"),
    ],
)
def test_import_refuses_bad_options_clearly(stages, write_csv, args, message):
    with pytest.raises(CommandError, match=message):
        run("import_leads", str(write_csv("name,value\nAda,1\n")), *args)
    assert not Lead.objects.exists()


def test_import_refuses_a_file_that_is_not_csv(stages, write_csv):
    path = write_csv(b"PK\x03\x04\x00\x00binary spreadsheet", name="leads.xlsx")

    with pytest.raises(CommandError, match="not a CSV file"):
        run("import_leads", str(path))


def test_import_of_a_missing_file_says_so(stages, tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*nope\.csv"):
        run("import_leads", str(tmp_path / "nope.csv"))


def test_export_writes_csv_to_stdout(stages, alice):
    LeadFactory(name="Ada", stage=stages["new"], owner=alice, attributes={"job": "admin."})

    header, row = run("export_leads").splitlines()

    assert header.startswith(
        "external_id,name,email,phone,company,source,stage,owner,value,created_at,converted"
    )
    assert header.endswith(",job")
    assert row.startswith(",Ada,")
    assert ",new,alice,0.00," in row


def test_export_takes_the_boards_filters(stages, alice, bob):
    LeadFactory(name="Ada", stage=stages["new"], owner=alice)
    LeadFactory(name="Bob", stage=stages["new"], owner=bob)
    LeadFactory(name="Adam", stage=stages["new"], owner=bob)

    assert len(run("export_leads", "--owner", "bob").splitlines()) == 3
    assert [
        line.split(",")[1] for line in run("export_leads", "--owner", "bob", "--q", "ada").splitlines()
    ] == [
        "name",
        "Adam",
    ]


def test_export_then_import_into_an_empty_database_gives_the_same_leads(stages, alice, write_csv):
    LeadFactory(name="Ada", stage=stages["won"], owner=alice, expected_value=5, attributes={"age": 41})
    LeadFactory(name="Bob", stage=stages["contacted"], priority=4, attributes={"city": "Porto"})
    exported = run("export_leads")

    Lead.objects.all().delete()
    run("import_leads", str(write_csv(exported)))

    assert run("export_leads") == exported
