from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "referloop.partners"
    label = "partners"
    verbose_name = "Partner relationships"

    def ready(self):
        # A referral's status change may owe a referral source news: the referrals app announces
        # it, the relationship (a floor above) listens, so the import direction stays one way.
        from referloop.partners import receivers  # noqa: F401
