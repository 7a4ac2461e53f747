from referloop.core.management.dispatch import KindCommand


class Command(KindCommand):
    help = "Import data: `referloop import KIND PATH` (KIND from settings.REFERLOOP_IMPORTERS)."
    setting = "REFERLOOP_IMPORTERS"
    verb = "import"
