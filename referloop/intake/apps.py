from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "referloop.intake"
    label = "intake"
    verbose_name = "Intake triage and information-and-referral"
