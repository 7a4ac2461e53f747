"""What a FHIR exchange needs beyond the referral itself: for a referral that came to us as a
ServiceRequest + Task, the identifiers the sender gave them (so a second POST of the same Bundle
changes nothing, and our answers carry them back) and the resources as received."""

from django.db import models
from django.utils import timezone

from referloop.core.fields import EncryptedTextField
from referloop.core.models import Agency, TenantQuerySet


class ReceivedReferral(models.Model):
    """An inbound referral that arrived as FHIR: the sender's ServiceRequest and Task."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    inbound = models.OneToOneField(
        "stays.InboundReferral", on_delete=models.CASCADE, related_name="fhir"
    )
    # The sender's own ids ("ServiceRequest/abc" as their server named it), for the answers.
    sender_request_id = models.CharField(max_length=200, blank=True)
    sender_task_id = models.CharField(max_length=200, blank=True)
    # As received, minus the Patient (the client record holds what we keep of the person).
    service_request = EncryptedTextField()  # JSON
    task = EncryptedTextField()  # JSON
    consent = models.ForeignKey(
        "clients.Consent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(default=timezone.now)
    # The inbound's version the requester last read (each newer one is a disclosure).
    disclosed_version = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    def __str__(self):
        return f"FHIR referral {self.inbound_id}"


class ReceivedIdentifier(models.Model):
    """One identifier (system|value) of a received ServiceRequest or Task: how a re-sent Bundle
    is recognised."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    received = models.ForeignKey(
        ReceivedReferral, on_delete=models.CASCADE, related_name="identifiers"
    )
    system = models.CharField(max_length=500)
    value = models.CharField(max_length=200)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "system", "value"], name="fhir_received_identifier"
            )
        ]

    def __str__(self):
        return f"{self.system}|{self.value}"
