from django.apps import AppConfig


class WorklistConfig(AppConfig):
    name = "referloop.worklist"
    label = "worklist"
