import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from referloop.core.worker import run_forever, run_once


class Command(BaseCommand):
    help = "Run periodic sweeps and queued background tasks (with --once: one pass, then exit)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run what is due now, then exit")
        parser.add_argument(
            "--interval",
            type=float,
            default=settings.WORKER_IDLE_SECONDS,
            help="seconds to wait between passes (default: %(default)s)",
        )

    def handle(self, *args, once, interval, **options):
        if once:
            run_once()
            return
        stopping = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.append(True))
        run_forever(idle_seconds=interval, should_stop=lambda: bool(stopping))
