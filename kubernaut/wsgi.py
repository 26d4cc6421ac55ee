"""WSGI entry point for gunicorn and `manage.py runserver`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubernaut.settings")
application = get_wsgi_application()
