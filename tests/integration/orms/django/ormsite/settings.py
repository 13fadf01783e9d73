"""Settings of the test project. The database is shardgate (or, for a check of the scenario
itself, a shard directly), given by the environment test_orms.py sets:
ORM_HOST, ORM_PORT, ORM_USER, ORM_PASSWORD, ORM_DBNAME, ORM_OPTIONS (libpq `options`, which
carries `-c shardgate.tenant=<tenant>` the way an application passes its tenant)."""
import os

SECRET_KEY = "shardgate-orm-test-only"
DEBUG = True            # so django.db.backends logs every statement (below): a failure shows its SQL
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "shop"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ["ORM_HOST"],
        "PORT": os.environ["ORM_PORT"],
        "NAME": os.environ["ORM_DBNAME"],
        "USER": os.environ["ORM_USER"],
        "PASSWORD": os.environ["ORM_PASSWORD"],
        "OPTIONS": {"options": os.environ.get("ORM_OPTIONS", ""), "connect_timeout": 10},
        # What Django's docs ask for behind a transaction-mode pooler (PgBouncer): no named
        # server-side cursors, which would not survive the end of a transaction.
        "DISABLE_SERVER_SIDE_CURSORS": True,
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "sql"}},
    "formatters": {"sql": {"format": "SQL %(message)s"}},
    "loggers": {"django.db.backends": {"handlers": ["stderr"], "level": "DEBUG",
                                       "propagate": False}},
}
