from django.apps import AppConfig
from django.db.models.signals import post_save


def _agency_created(sender, instance, created, raw=False, **kwargs):
    # Every agency starts with the default disposition codes (seed 003), which it may then edit.
    if created and not raw:
        from referloop.referrals.services import disposition_defaults_ensure

        disposition_defaults_ensure(agency=instance)


class ReferralsConfig(AppConfig):
    name = "referloop.referrals"
    label = "referrals"
    verbose_name = "Referrals"

    def ready(self):
        post_save.connect(
            _agency_created, sender="core.Agency", dispatch_uid="referrals_agency_codes"
        )
