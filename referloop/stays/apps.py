from django.apps import AppConfig


class StaysConfig(AppConfig):
    name = "referloop.stays"
    label = "stays"
    verbose_name = "Inbound referrals and stays"
