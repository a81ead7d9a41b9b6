"""Production's settings as the README documents them pass `check --deploy`; pages carry a strict CSP."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
# The production environment of README.md ("Production"), with throwaway values.
PRODUCTION = {
    "DATABASE_URL": "postgres://pipeline@db.internal:5432/pipeline",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "SECRET_KEY": "x" * 20 + "-a-long-random-production-secret-key-0123456789",
    "ALLOWED_HOSTS": "crm.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://crm.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    inherited = ("DATABASE_", "REDIS_", "SECURE_", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_production_settings_pass_check_deploy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_pages_carry_a_policy_without_inline_script_or_style(client, alice):
    client.force_login(alice)
    policy = client.get("/leads/kanban/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert "unsafe" not in policy


def test_a_404_without_debug_lists_no_url_patterns(client, alice, settings):
    settings.DEBUG = False
    client.force_login(alice)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "URLconf" not in page and "dashboard-enhanced/train/" not in page
