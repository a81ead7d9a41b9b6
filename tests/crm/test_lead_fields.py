"""crm.lead_fields: one declaration of the lead's fields; the form, the services, the import and the export
agree with it and with each other."""

import io

import pytest

from crm import exporting, importing, lead_fields, services
from crm.forms import LeadForm
from crm.models import Lead
from tests.factories import LeadFactory


def import_refusal(header: str, cell: str) -> str:
    csv_file = importing.read_csv(f"name,{header}\nAda,{cell}\n".encode())
    mapping = importing.resolve_mapping(csv_file.columns)
    with pytest.raises(importing.ImportRefused) as refused:
        importing.import_leads(csv_file, mapping)
    return refused.value.errors[0].message


def test_the_form_edits_exactly_the_editable_fields_in_declared_order():
    assert list(LeadForm().fields) == [*lead_fields.EDITABLE, "version"]
    assert services.EDITABLE_FIELDS == lead_fields.EDITABLE
    assert "external_id" not in lead_fields.EDITABLE  # imported, never typed


def test_import_targets_and_export_header_are_the_declared_names(stages):
    LeadFactory(name="Ada")
    out = io.StringIO()
    exporting.write_csv(Lead.objects.all(), out)
    assert out.getvalue().splitlines()[0].split(",") == list(lead_fields.NAMES)
    assert importing.FIELDS == lead_fields.NAMES


@pytest.mark.parametrize(
    ("name", "attr", "cell"),
    [
        ("value", "expected_value", "-5"),
        ("value", "expected_value", "lots"),
        ("value", "expected_value", "1.234"),
        ("email", "email", "not-an-email"),
        ("phone", "phone", "1" * 41),
        ("engagement_level", "engagement_level", "7"),
        ("priority", "priority", "9"),
    ],
)
def test_a_value_the_form_refuses_is_refused_by_the_import_with_the_same_message(stages, name, attr, cell):
    form = LeadForm(
        data={"name": "Ada", "priority": 2, "engagement_level": 0, "expected_value": 0, attr: cell}
    )
    assert not form.is_valid()
    form_message = " ".join(form.errors[attr])

    assert import_refusal(name, cell).endswith(f": {form_message}")


def test_a_negative_deal_value_is_refused_by_the_form_too(stages):
    form = LeadForm(data={"name": "Ada", "priority": 2, "engagement_level": 0, "expected_value": "-1"})
    assert form.errors["expected_value"] == ["Ensure this value is greater than or equal to 0."]


def test_choices_read_from_their_label_or_their_number():
    priority = lead_fields.BY_NAME["priority"]
    assert priority.clean("High") == priority.clean("3") == Lead.Priority.HIGH


def test_an_import_row_reports_every_problem_not_only_the_first(stages):
    csv_file = importing.read_csv(b"name,email,value,owner\nAda,nope,lots,zed\n")
    with pytest.raises(importing.ImportRefused) as refused:
        importing.import_leads(csv_file, importing.resolve_mapping(csv_file.columns))
    assert refused.value.errors[0].message == (
        "email “nope”: Enter a valid email address.; value “lots”: Enter a number.; "
        "owner “zed” is not a username here"
    )


def test_every_field_has_a_label_people_read():
    titles = {field.name: field.title for field in lead_fields.FIELDS}
    assert titles["value"] == "Expected value"
    assert titles["converted"] == "Converted"
    assert all(title[:1].isupper() for title in titles.values())
