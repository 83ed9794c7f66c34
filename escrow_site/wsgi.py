"""The WSGI application, for gunicorn (or any WSGI server) in production.

After the app and its URLconf are loaded, every object they made is moved out of the garbage
collector's reach (gc.freeze): they live as long as the process, and a full collection scanned
them all on every run, 50-75 ms on these machines, which was the slowest request of a confirm
or a dashboard page in process and the 1-client p99 under load. Collections now scan only what
requests allocate. Set GC_FREEZE=0 to leave the collector as Python sets it."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_site.settings")
application = get_wsgi_application()

if os.environ.get("GC_FREEZE", "1").strip().lower() not in {"0", "false", "no", "off"}:
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 -- imports every view, serializer and form now
    gc.collect()
    gc.freeze()
