"""A fresh install gets the two roles and the default pipeline (no leads); an existing pipeline is kept."""

from django.db import migrations


def forwards(apps, schema_editor):
    from crm.first_run import create_default_stages, create_roles

    create_roles(apps.get_model("auth", "Group"))
    create_default_stages(apps.get_model("crm", "Stage"))


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("crm", "0008_lead_first_contact_at"),
    ]

    # Backwards leaves the rows: they may hold leads and the team's own edits by then.
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
