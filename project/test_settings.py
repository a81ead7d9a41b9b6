"""Settings of the test suite (pytest-django's DJANGO_SETTINGS_MODULE): production's, and what tests replace.

The server and worker processes that system and browser tests start (tests/live.py) run project.settings
itself, as production does: Redis for Dramatiq when REDIS_URL is set.
"""

import os

# With DATABASE_URL or REDIS_URL set, project.settings is production and refuses to start without a key; the
# suite runs without one. The processes tests start are handed this same key, so sessions made here hold.
os.environ.setdefault("SECRET_KEY", "tests-only-key-not-for-production")

from project.broker import broker_settings
from project.settings import *  # noqa: F403
from project.settings import DATABASES, VAR_DIR

# Actors run on the stub broker, by a worker the test starts when it wants one, never behind its back.
DRAMATIQ_BROKER = broker_settings("")
EMBEDDED_WORKER = False

# Hashing "demo" properly costs a quarter of a second per user. Tests with real server processes put
# production's hashers back (tests/conftest.py), since those processes check the passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's in-memory default, so the server processes of browser tests can open the test
    # database; one per test run, so that runs side by side do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

# The test client speaks plain HTTP to a production-shaped configuration: no redirect to HTTPS, cookies
# that a plain-HTTP client keeps. tests/security checks production's own values with `check --deploy`.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False

# Tests arrange their own pipeline (tests/factories.py); tests/crm/test_first_run.py migrates one with it.
FIRST_RUN_STAGES = False

# Webhook receivers in tests are local HTTP servers.
WEBHOOK_ALLOW_PRIVATE = True
