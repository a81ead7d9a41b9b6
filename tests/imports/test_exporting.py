"""crm.exporting: every field and attribute out, in a file that imports back as the same leads."""

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

from crm import exporting, importing
from crm.models import Lead, LeadSource
from tests.factories import LeadFactory, SourceFactory, import_text


def export() -> str:
    out = io.StringIO()
    exporting.write_csv(Lead.objects.all(), out)
    return out.getvalue()


def records(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_field_is_exported_then_one_column_per_attribute_key_in_name_order(stages, alice):
    LeadFactory(
        name="Ada",
        external_id="A1",
        stage=stages["won"],
        owner=alice,
        source=SourceFactory(name="Referral"),
        expected_value=Decimal("99.50"),
        priority=3,
        engagement_level=2,
        lead_score=71,
        score_source="model",
        follow_up_at=datetime(2025, 1, 2, 9, 0, tzinfo=UTC),
        attributes={"job": "admin.", "age": 41, "ratio": 0.00001},
    )
    LeadFactory(name="Bob", stage=stages["new"], attributes={"city": "Porto", "age": 30})

    header, *_ = export().splitlines()
    bob, ada = records(export())  # board order: New comes before Won

    assert header.split(",") == [*importing.FIELDS, "age", "city", "job", "ratio"]
    assert {k: ada[k] for k in importing.FIELDS} | {"created_at": "…"} == {
        "external_id": "A1",
        "name": "Ada",
        "email": ada["email"],
        "phone": "",
        "company": "Acme",
        "source": "Referral",
        "stage": "won",
        "owner": "alice",
        "value": "99.50",
        "created_at": "…",
        "converted": "1",
        "priority": "3",
        "engagement_level": "2",
        "follow_up_at": "2025-01-02T09:00:00+00:00",
        "lead_score": "71",
        "score_source": "model",
    }
    assert (ada["job"], ada["age"], ada["ratio"], ada["city"]) == ("admin.", "41", "0.00001", "")
    assert (bob["converted"], bob["owner"], bob["lead_score"], bob["city"]) == ("", "", "", "Porto")


def test_export_import_export_gives_the_same_file(stages, alice, bob):
    text = (
        "external_id;name;email;company;source;owner;value;created_at;converted;priority;industry;employees\n"
        "A1;Ada;ada@example.com;Engines;Referral;alice;1200.5;2024-01-05T10:00:00+00:00;1;4;retail;12\n"
        'B2;"Bob; Jr.";;"Quote ""Co""";Website;bob;0;2024-02-01;0;1;health;\n'
        "C3;Cy;cy@example.com;;;;;;;;;7\n"
    )
    import_text(text)
    first = export()

    Lead.objects.all().delete()
    LeadSource.objects.all().delete()
    exported = importing.read_csv(first.encode())
    importing.import_leads(exported, importing.auto_mapping(exported.columns))
    second = export()

    assert second == first
    rows = records(first)
    assert [r["name"] for r in rows] == ["Cy", "Ada", "Bob; Jr."]
    by_id = {r["external_id"]: r for r in rows}
    assert by_id["A1"]["stage"] == "won" and by_id["B2"]["stage"] == "lost" and by_id["C3"]["stage"] == "new"
    assert by_id["B2"]["company"] == 'Quote "Co"'
    assert (by_id["A1"]["employees"], by_id["C3"]["employees"], by_id["B2"]["employees"]) == ("12", "7", "")
    assert Lead.objects.get(external_id="C3").attributes == {"employees": 7}


def test_text_a_spreadsheet_would_run_as_a_formula_goes_out_behind_an_apostrophe(stages):
    LeadFactory(
        name='=HYPERLINK("http://evil","x")',
        company="@home",
        phone="+1 555 0100",
        attributes={"=key": "-x", "delta": -5, "ratio": -3.2, "code": "-7", "tab": "\tcmd", "quote": "'=x"},
    )

    header, line = export().splitlines()
    (row,) = records(export())

    assert header.endswith(",'=key,code,delta,quote,ratio,tab")
    assert line.startswith(',"\'=HYPERLINK(""http://evil"",""x"")",')
    assert (row["name"], row["company"], row["phone"]) == (
        '\'=HYPERLINK("http://evil","x")',
        "'@home",
        "'+1 555 0100",
    )
    # Numbers stay numbers; text that starts with an apostrophe before such a character gets one more.
    assert (row["'=key"], row["delta"], row["ratio"], row["code"]) == ("'-x", "-5", "-3.2", "-7")
    assert (row["tab"], row["quote"]) == ("'\tcmd", "''=x")


def test_guarded_cells_import_back_as_the_original_text(stages):
    text = (
        "external_id,name,company,=note,score\n"
        "F1,=1+1,@home,+plus,-5\n"
        "F2,@home,''=quoted,-3.2,-1+2\n"  # a guarded cell: imported as '=quoted
    )
    import_text(text)
    first = export()
    assert "'=1+1" in first and "'@home" in first and "''=quoted" in first

    Lead.objects.all().delete()
    exported = importing.read_csv(first.encode())
    assert "=note" in exported.columns
    importing.import_leads(exported, importing.auto_mapping(exported.columns))

    assert export() == first
    leads = {lead.external_id: lead for lead in Lead.objects.all()}
    assert (leads["F1"].name, leads["F1"].company) == ("=1+1", "@home")
    assert leads["F1"].attributes == {"=note": "+plus", "score": -5}
    assert (leads["F2"].name, leads["F2"].company) == ("@home", "'=quoted")
    assert leads["F2"].attributes == {"=note": -3.2, "score": "-1+2"}
