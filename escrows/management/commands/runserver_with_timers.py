from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands.runserver import Command as RunserverCommand

from escrows.beat import InProcessBeat


class Command(RunserverCommand):
    help = (
        "runserver, and the timers in the same process: Celery beat's schedule (process_due "
        "every CELERY_PROCESS_DUE_SECONDS) run by a background thread, as beat runs it in "
        "production. For the embedded default (dev.py serve), where tasks run in-process. "
        "Static files are served by whitenoise, as with runserver here."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-timers", action="store_true", help="serve only, as runserver does (no timers)"
        )

    def inner_run(self, *args: Any, **options: Any) -> None:
        # inner_run runs in the process that serves (the autoreloader's child), once per start.
        if not options.get("no_timers"):
            InProcessBeat().start()
            self.stdout.write("Timers: running Celery beat's schedule in this process.")
        super().inner_run(*args, **options)
