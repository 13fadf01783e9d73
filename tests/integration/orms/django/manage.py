#!/usr/bin/env python3
"""The Django project test_orms.py drives through shardgate: `manage.py migrate`,
`manage.py migrate shop zero`, `manage.py shop_crud`. Connection settings come from the
environment (see ormsite/settings.py)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ormsite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
