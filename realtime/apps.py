from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Live updates"

    def ready(self) -> None:
        from crm import events
        from realtime import broadcast, sessions  # noqa: F401  (sessions connects its signal receivers)

        events.subscribe(broadcast.handlers)
