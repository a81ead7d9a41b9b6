from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    verbose_name = "Background work"

    def ready(self) -> None:
        from crm import events
        from workers import triggers  # imports the actors too, declaring them on this process's broker

        events.subscribe(triggers.handlers)
