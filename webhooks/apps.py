from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from crm import events
        from webhooks import subscriber

        events.subscribe(subscriber.handlers)
