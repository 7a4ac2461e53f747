import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from gunicorn.app.base import BaseApplication


class ReferloopServer(BaseApplication):
    def __init__(self, options):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # The project's WSGI application, made here rather than imported from referloop.wsgi:
        # core does not import the project package above it.
        from django.core.wsgi import get_wsgi_application

        return get_wsgi_application()


class Command(BaseCommand):
    help = "Serve Referloop with gunicorn and run the background worker beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2, help="web worker processes")
        parser.add_argument("--threads", type=int, default=4, help="threads per web worker")
        parser.add_argument(
            "--no-worker", action="store_true", help="do not start the background worker"
        )

    def handle(self, *args, host, port, workers, threads, no_worker, **options):
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {port}")
        if workers < 1 or threads < 1:
            raise CommandError("--workers and --threads must be at least 1")
        if settings.PRODUCTION:
            call_command("collectstatic", interactive=False, verbosity=0)
        background = None
        if not no_worker:
            background = subprocess.Popen([sys.executable, "-m", "referloop.cli", "worker"])
        self.stdout.write(f"Referloop is answering on http://{host}:{port}/ (Ctrl+C stops it)")
        try:
            ReferloopServer(
                {
                    "bind": f"{host}:{port}",
                    "workers": workers,
                    "threads": threads,
                    "worker_class": "gthread",
                    "accesslog": "-",
                    "timeout": 60,
                    "graceful_timeout": 10,
                }
            ).run()
        finally:
            if background is not None:
                background.terminate()
                background.wait(timeout=15)
