from django.core.management.base import BaseCommand

from escrows.tasks import run_timers


class Command(BaseCommand):
    help = (
        "Run the timers once: auto-release delivered milestones past their inspection period, "
        "cancel escrows awaiting payment past expiry, and retry due settlements. "
        "For the embedded default, where no Celery beat runs."
    )

    def handle(self, *args: object, **options: object) -> None:
        counts = run_timers()
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count}")
