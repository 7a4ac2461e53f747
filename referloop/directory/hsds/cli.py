"""`referloop import hsds PATH` and `referloop export hsds PATH` (dispatched from core by the
dotted paths in settings.REFERLOOP_IMPORTERS / REFERLOOP_EXPORTERS)."""

import os
import tempfile
from pathlib import Path

from django.core.management.base import CommandError

from referloop.core.imports.run import add_import_arguments, progress_bar, report_out
from referloop.core.models import Network
from referloop.directory.hsds.selectors import hsds_export_tabular, hsds_write_json
from referloop.directory.hsds.services import hsds_import


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


def import_command(
    *,
    command,
    path: str,
    network: str | None = None,
    partial=False,
    dry_run=False,
    report: str | None = None,
    **options,
):
    """Import an HSDS directory: 3.0 JSON, a tabular datapackage (3.0, 2.0, 1.x), or a ZIP."""
    network_row = _network(network)
    with progress_bar(command) as progress:
        result = hsds_import(
            path=path, network=network_row, partial=partial, dry_run=dry_run, progress=progress
        )
    report_out(command, result, report_path=report)


def _import_arguments(parser) -> None:
    _network_argument(parser)
    add_import_arguments(parser)


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
