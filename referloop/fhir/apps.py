from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "referloop.fhir"
    label = "fhir"
    verbose_name = "FHIR exchange"
