import contextlib
import signal
import threading

from django.core.management.base import BaseCommand

from workers.lease import scheduler_lease
from workers.schedule import SCHEDULE, run_forever


class Command(BaseCommand):
    help = "Enqueue the periodic actors; a second scheduler waits for the lease (workers/lease.py)."

    def handle(self, *args, **options):
        for name, every in SCHEDULE:
            self.stdout.write(f"{name}: every {every}")
        stop = threading.Event()
        # SIGTERM (honcho, systemd, a deploy) lets go of the lease at once, so a standby takes over without
        # waiting for it to run out.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            run_forever(stop, scheduler_lease())
