from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "referloop.clients"
    label = "clients"
    verbose_name = "Clients and consent"
