from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "referloop.core"
    label = "core"
    verbose_name = "Referloop core"
