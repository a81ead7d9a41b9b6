"""A real team's first day: an empty database migrates into a pipeline with roles, a manager is made from the
command line, a CSV imports at once, and the demo still seeds on top."""

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from crm.first_run import DEFAULT_STAGES
from crm.models import AGENTS_GROUP, MANAGERS_GROUP, Lead, Stage
from crm.permissions import is_manager
from tests.live import BASE_DIR

User = get_user_model()
DEFAULT_SLUGS = [slug for _, slug, _, _ in DEFAULT_STAGES]


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_an_empty_database_migrates_into_a_pipeline_a_manager_can_use(tmp_path):
    """Production settings on a brand-new database (SQLite: the migration uses only the ORM)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SECRET_KEY": "first-run-test",
        "PIPELINE_MANAGER_PASSWORD": "a-long-first-password",
    }
    env.pop("REDIS_URL", None)
    manage(env, "migrate", "--verbosity", "0")
    shown = "from crm.models import Stage, Lead; from django.contrib.auth.models import Group; print(list(Stage.objects.values_list('slug', flat=True)), sorted(Group.objects.values_list('name', flat=True)), Lead.objects.count())"  # noqa: E501
    assert manage(env, "shell", "-c", shown).strip().splitlines()[-1] == (
        f"{DEFAULT_SLUGS} {sorted([AGENTS_GROUP, MANAGERS_GROUP])} 0"
    )
    out = manage(
        env, "createmanager", "--username", "boss", "--name", "Ana Silva", "--email", "a@x.io", "--no-input"
    )
    assert "Manager boss created" in out
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("name,email\nBen Okafor,ben@example.com\n")
    assert "Imported 1 lead: 1 created (1 in New)" in manage(env, "import_leads", str(csv_file))
    # Running the step again, and seed_demo on top of it: the tests below, on the suite's database.


@pytest.fixture
def first_run_step(transactional_db, settings):
    """Re-run this project's first-run migration on the suite's own database (Postgres or SQLite)."""
    settings.FIRST_RUN_STAGES = True

    def run():
        call_command("migrate", "crm", "0007", verbosity=0)
        call_command("migrate", "crm", verbosity=0)

    return run


def test_the_first_run_step_makes_stages_and_roles_on_an_empty_database(first_run_step):
    Group.objects.all().delete()
    first_run_step()
    stages = list(Stage.objects.values_list("slug", "kind", "order"))
    assert [slug for slug, _, _ in stages] == DEFAULT_SLUGS
    assert [kind for _, kind, _ in stages][-2:] == ["won", "lost"]
    assert sorted(Group.objects.values_list("name", flat=True)) == sorted([AGENTS_GROUP, MANAGERS_GROUP])
    assert not Lead.objects.exists()


def test_the_first_run_step_leaves_a_teams_own_pipeline_alone(first_run_step):
    Stage.objects.create(name="Inbox", slug="inbox", kind=Stage.Kind.OPEN)
    first_run_step()
    first_run_step()
    assert list(Stage.objects.values_list("slug", flat=True)) == ["inbox"]
    assert Group.objects.filter(name__in=[AGENTS_GROUP, MANAGERS_GROUP]).count() == 2


def test_seed_demo_builds_on_the_first_run_pipeline(first_run_step):
    first_run_step()
    call_command("seed_demo", "--leads", "6", stdout=StringIO())
    assert list(Stage.objects.values_list("slug", flat=True)) == DEFAULT_SLUGS
    assert Lead.objects.count() == 6


def createmanager(*args, **options) -> str:
    out = StringIO()
    call_command("createmanager", *args, stdout=out, **options)
    return out.getvalue()


def test_createmanager_makes_a_manager_from_options_and_the_environment(db, monkeypatch):
    monkeypatch.setenv("PIPELINE_MANAGER_PASSWORD", "a-long-first-password")
    out = createmanager(
        "--username", "boss", "--name", "Ana Silva", "--email", "ana@example.com", "--no-input"
    )
    assert "Manager boss created" in out
    boss = User.objects.get(username="boss")
    assert (boss.get_full_name(), boss.email, boss.is_superuser) == ("Ana Silva", "ana@example.com", False)
    assert is_manager(boss) and boss.check_password("a-long-first-password")


def test_createmanager_asks_for_what_is_missing(db, monkeypatch):
    answers = iter(["boss", "Ana Silva", "ana@example.com"])
    passwords = iter(["short", "other", "a-long-first-password", "a-long-first-password"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(passwords))
    createmanager("--admin", stderr=StringIO())
    boss = User.objects.get(username="boss")
    assert boss.is_superuser and boss.is_staff and boss.check_password("a-long-first-password")


def test_createmanager_says_what_is_wrong_and_makes_nobody(db, monkeypatch):
    monkeypatch.delenv("PIPELINE_MANAGER_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="PIPELINE_MANAGER_PASSWORD"):
        createmanager("--username", "boss", "--name", "A", "--email", "a@example.com", "--no-input")
    with pytest.raises(CommandError, match="--email is required"):
        createmanager("--username", "boss", "--name", "A", "--password", "x", "--no-input")
    with pytest.raises(CommandError, match=r"password: .*too short"):
        createmanager(
            "--username", "boss", "--name", "A", "--email", "a@example.com", "--password", "x", "--no-input"
        )
    assert not User.objects.exists()
