"""The real UCI bank marketing data (Moro et al. 2011): `y` says who converted, `duration` is left out."""

import io

import pytest
from django.core.management import call_command

from crm import importing
from crm.models import Lead, Stage

BANK_ATTRIBUTES = [
    "age",
    "job",
    "marital",
    "education",
    "default",
    "balance",
    "housing",
    "loan",
    "contact",
    "day",
    "month",
    "campaign",
    "pdays",
    "previous",
    "poutcome",
]


def test_a_stratified_bank_sample_imports_with_y_as_converted_and_duration_ignored(
    stages, manager, bank_sample, write_csv
):
    text, rows, yes = bank_sample
    out = io.StringIO()

    call_command(
        "import_leads",
        str(write_csv(text, name="bank-sample.csv")),
        "--map",
        "y=converted",
        "--ignore",
        "duration",
        "--actor",
        "manager",
        stdout=out,
    )

    assert f"Imported {rows:,} leads" in out.getvalue()
    assert Lead.objects.count() == rows
    assert Lead.objects.filter(stage__kind=Stage.Kind.WON).count() == yes
    assert Lead.objects.filter(stage__kind=Stage.Kind.LOST).count() == rows - yes
    assert 0.10 < yes / rows < 0.13
    lead = Lead.objects.order_by("pk").first()
    assert sorted(lead.attributes) == sorted(BANK_ATTRIBUTES)
    assert isinstance(lead.attributes["age"], int)
    assert isinstance(lead.attributes["balance"], int)
    assert isinstance(lead.attributes["job"], str)
    assert not Lead.objects.filter(attributes__has_key="duration").exists()
    assert not Lead.objects.filter(attributes__has_key="y").exists()


@pytest.mark.slow
def test_the_whole_bank_file_imports(stages, manager, bank_csv):
    """45,211 rows in one go, as a manager would; how long it takes is measured in the report, not here."""
    csv_file = importing.read_csv(bank_csv.read_bytes())
    mapping = importing.resolve_mapping(csv_file.columns, {"y": "converted"}, ["duration"])

    result = importing.import_leads(csv_file, mapping, actor=manager)

    assert result.count == Lead.objects.count() == 45_211
    assert Lead.objects.filter(stage__kind=Stage.Kind.WON).count() == 5_289
    assert Lead.history.filter(history_user=manager).count() == 45_211
