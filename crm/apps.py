from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Pipeline CRM"

    def ready(self) -> None:
        from crm import security_log  # noqa: F401  (connects its signal receivers)
