from django.core.management.base import BaseCommand, CommandError

from workers.schedule import SCHEDULE


class Command(BaseCommand):
    help = "Run one periodic job once, now, in the foreground (for operators and tests). --list names them."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="A job from the periodic table (see --list).")
        parser.add_argument(
            "--list", action="store_true", help="Name the periodic jobs and how often they run."
        )

    def handle(self, *args, name=None, list=False, **options):
        if list or not name:
            for job, every in SCHEDULE:
                self.stdout.write(f"{job}\tevery {every}")
            if not list:
                raise CommandError("Name a job to run (above).")
            return
        jobs = dict(SCHEDULE)
        if name not in jobs:
            raise CommandError(f"No periodic job “{name}”. Jobs: {', '.join(jobs)}.")
        import dramatiq

        # The actor's function itself, in this process: not a message for a worker.
        dramatiq.get_broker().get_actor(name).fn()
        self.stdout.write(self.style.SUCCESS(f"{name}: done"))
