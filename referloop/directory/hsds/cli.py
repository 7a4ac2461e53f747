"""`referloop import hsds PATH` and `referloop export hsds PATH` (dispatched from core by the
dotted paths in settings.REFERLOOP_IMPORTERS / REFERLOOP_EXPORTERS)."""

import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm

from referloop.core.models import Network
from referloop.directory.hsds.selectors import hsds_export_tabular, hsds_write_json
from referloop.directory.hsds.services import hsds_import

MAX_PROBLEM_LINES = 200


def _network(slug: str | None) -> Network:
    if slug:
        network = Network.objects.filter(slug=slug).first()
        if network is None:
            known = ", ".join(Network.objects.order_by("slug").values_list("slug", flat=True))
            raise CommandError(
                f"network: no network '{slug}'" + (f" (there are: {known})" if known else "")
            )
        return network
    networks = list(Network.objects.order_by("slug")[:10])
    if not networks:
        raise CommandError(
            "network: there is no network yet (create one with `referloop createagency`)"
        )
    if len(networks) > 1:
        slugs = ", ".join(network.slug for network in networks)
        raise CommandError(f"network: there are several networks ({slugs}); pass --network SLUG")
    return networks[0]


def _network_argument(parser) -> None:
    parser.add_argument(
        "--network", metavar="SLUG", help="the network's slug (needed when there are several)"
    )


def _stream(wrapper):
    # Django's OutputWrapper ends every write with a newline; a progress bar needs the raw stream.
    return getattr(wrapper, "_out", wrapper) or sys.stderr


def import_command(*, command, path: str, network: str | None = None, partial=False, **options):
    """Import an HSDS 3.0 JSON file or an HSDS 1.x/2.0/3.0 tabular datapackage."""
    network_row = _network(network)
    stderr = _stream(command.stderr)
    bar = None
    if hasattr(stderr, "isatty") and stderr.isatty():
        bar = tqdm(total=0, file=stderr, unit="row", leave=False, dynamic_ncols=True)

    def progress(done: int, total: int, stage: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_description(stage)
        bar.refresh()

    try:
        report = hsds_import(
            path=path,
            network=network_row,
            partial=partial,
            progress=progress if bar is not None else None,
        )
    finally:
        if bar is not None:
            bar.close()
    for line in report.summary_lines():
        command.stdout.write(line)
    for line in report.problem_lines(limit=MAX_PROBLEM_LINES):
        command.stderr.write(line)
    errors = len(report.errors)
    if errors and report.written:
        raise CommandError(
            f"{errors} row error(s): those rows were left out, the valid rows were imported "
            f"into {network_row.slug} (--partial)"
        )
    if errors:
        raise CommandError(
            f"HSDS import failed with {errors} error(s); nothing was written "
            "(fix the rows above, or pass --partial to import the valid rows)"
        )


def _import_arguments(parser) -> None:
    _network_argument(parser)
    parser.add_argument(
        "--partial",
        action="store_true",
        help="import the valid rows and report the others (default: all or nothing)",
    )


import_command.add_arguments = _import_arguments


def export_command(*, command, path: str, network: str | None = None, **options):
    """Export the directory as HSDS 3.0: PATH ending in .json gets JSON, else a datapackage."""
    if not path.strip():
        raise CommandError("give the path to write: a folder, or a file ending in .json")
    network_row = _network(network)
    target = Path(path)
    try:
        if target.suffix.lower() == ".json":
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            os.close(handle)
            try:
                count = hsds_write_json(network=network_row, path=Path(temporary))
                os.replace(temporary, target)
            finally:
                Path(temporary).unlink(missing_ok=True)
            command.stdout.write(f"Exported {count} services to {target} (HSDS 3.0 JSON)")
            return
        if target.exists() and not target.is_dir():
            raise CommandError(f"{target} is a file: give a folder, or a path ending in .json")
        counts = hsds_export_tabular(network=network_row, directory=target)
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
    command.stdout.write(
        f"Exported {counts['services.csv']} services to {target} "
        f"(HSDS 3.0 datapackage, {len(counts)} CSV files)"
    )


export_command.add_arguments = _network_argument
