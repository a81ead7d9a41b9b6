from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    verbose_name = "Background work"

    def ready(self) -> None:
        from crm import events
        from workers import actors, triggers  # importing actors declares them on this process's broker

        assert actors

        events.subscribe(triggers.on_domain_event)
