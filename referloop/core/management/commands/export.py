from referloop.core.management.dispatch import KindCommand


class Command(KindCommand):
    help = "Export data: `referloop export KIND PATH` (KIND from settings.REFERLOOP_EXPORTERS)."
    setting = "REFERLOOP_EXPORTERS"
    verb = "export"
