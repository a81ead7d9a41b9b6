import contextlib
import threading

from django.core.management.base import BaseCommand

from workers.schedule import SCHEDULE, run_forever


class Command(BaseCommand):
    help = "Enqueue the periodic actors (run exactly one of these in production)."

    def handle(self, *args, **options):
        for name, every in SCHEDULE:
            self.stdout.write(f"{name}: every {every}")
        with contextlib.suppress(KeyboardInterrupt):
            run_forever(threading.Event())
