from django.core.management.base import BaseCommand

from escrows.tasks import run_timers


class Command(BaseCommand):
    help = (
        "Run the timers once: auto-release delivered milestones past their review deadline, "
        "email buyers whose review ends soon, "
        "cancel escrows awaiting payment past expiry, apply the opener's request to disputes "
        "nobody answered by their deadline, retry due or stuck settlements, send due "
        "webhook retries and re-dispatch events left in the outbox. "
        "For the embedded default, where no Celery beat runs."
    )

    def handle(self, *args: object, **options: object) -> None:
        counts = run_timers()
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count}")
