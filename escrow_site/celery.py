import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_site.settings")

app = Celery("escrow_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
