from django.apps import AppConfig


class StaysConfig(AppConfig):
    name = "referloop.stays"
    label = "stays"
    verbose_name = "Inbound referrals and stays"

    def ready(self):
        # A referral received through Referloop becomes the receiver's inbound record: the
        # referrals app announces it, this app (beside it, above in the imports) listens.
        from referloop.stays import receivers  # noqa: F401
