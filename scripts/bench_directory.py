"""Directory speed check: search latency per scenario and HSDS import rate.

Run against a database holding `referloop demo --size large` (PostgreSQL for real numbers):

    DATABASE_URL=postgres://... .venv/bin/python scripts/bench_directory.py \
        [search] [sql [-v]] [page] [import]

(BENCH_RUNS=N: runs per scenario, default 30.)

Search: warm runs of `directory_search` per scenario, p50/p95 in ms (budget: p95 < 80 ms); the
"public:" scenarios search every network, as the public directory does.
SQL: the same searches' queries run again under EXPLAIN ANALYZE (PostgreSQL only): the median
over the runs of their summed execution time, which a busy machine disturbs less than the
wall clock; `sql -v` also prints each query's plan once.
Page: the staff directory page (`/services/?...`; `/directory/?...` for the public scenarios)
for each scenario, as a demo coordinator through Django's test client: p50/p95 of the whole
request (search, template, navigation), its CPU time, and the time its queries took (budget: the
page within 2x its queries' time).
Import: exports the demo network as HSDS 3.0 JSON, imports it into a scratch network inside a
transaction that is rolled back after the foreign-key checks a commit would run, and prints
services per second (budget: >= 2,000/s), then the seconds spent in each phase of the import
(reading, checking, writing, ...) and, when PostgreSQL runs on this machine, the CPU time its
backend spent: where the time goes, and whether the writes wait on the database. The
rolled-back rows leave the directory's tables and indexes bloated (the eligibility searches'
index grew from 4 to 20 MB and their SQL tripled): run `VACUUM FULL; VACUUM ANALYZE;` before
measuring searches again.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referloop.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django

django.setup()

from urllib.parse import urlencode  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from referloop.core.models import Membership, Network  # noqa: E402
from referloop.core.permissions import Role  # noqa: E402
from referloop.demo.build import DEMO_NETWORK_SLUG  # noqa: E402
from referloop.directory.hsds.selectors import hsds_write_json  # noqa: E402
from referloop.directory.hsds.services import hsds_import  # noqa: E402
from referloop.directory.search import DirectoryQuery, directory_search  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", 30))
ELIGIBILITY = {
    "age": 30,
    "gender": "male",
    "court_ordered": True,
    "insurance": "medicaid",
    "language": "es",
    "population": "adults",
}
SCENARIOS = {
    "nothing asked": {},
    "text": {"text": "counseling"},
    "need": {"need": "detox"},
    "has capacity": {"has_capacity": True},
    "zip radius": {"postal_code": "62701"},
    "zip radius page 5": {"postal_code": "62701", "page": 5},
    "zip 5 miles": {"postal_code": "62701", "within_miles": 5},
    "zip + need": {"postal_code": "62701", "need": "detox"},
    "zip + need + eligibility": {"postal_code": "62701", "need": "detox", **ELIGIBILITY},
    "need + eligibility": {"need": "detox", **ELIGIBILITY},
    "eligibility only": ELIGIBILITY,
    "zip + eligibility": {"postal_code": "62701", **ELIGIBILITY},
}
# The public directory (`/directory/`) searches every network's services.
PUBLIC = "public: "
SCENARIOS |= {
    PUBLIC + "zip + need + eligibility": SCENARIOS["zip + need + eligibility"],
    PUBLIC + "zip + eligibility": SCENARIOS["zip + eligibility"],
}


def _scenarios(network):
    """(name, what is asked, the network searched: None for the public directory)."""
    for name, asked in SCENARIOS.items():
        yield name, asked, None if name.startswith(PUBLIC) else network


def bench_search(network) -> None:
    print(f"{'scenario':34} {'total':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for name, asked, searched in _scenarios(network):
        query = DirectoryQuery(**asked)
        page = directory_search(network=searched, query=query)  # warm-up
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            directory_search(network=searched, query=query)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p95 = times[int(0.95 * (len(times) - 1))]
        total = f"{page.total}{'+' if page.more else ''}"
        print(f"{name:34} {total:>7} {statistics.median(times):8.1f} {p95:8.1f}")


def _explained(sql: str, *, verbose: bool) -> float:
    """Runs one captured query under EXPLAIN ANALYZE; its execution time in ms."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        plan = [row[0] for row in cursor.fetchall()]
    if verbose:
        print("\n".join(["", sql[:2000], *plan]))
    return float(plan[-1].split(":")[1].split()[0])


def bench_sql(network, *, verbose: bool) -> None:
    print(f"{'scenario':34} {'queries':>7} {'sql p50 ms':>10} {'sql max ms':>10}")
    for name, asked, searched in _scenarios(network):
        with CaptureQueriesContext(connection) as captured:
            directory_search(network=searched, query=DirectoryQuery(**asked))
        statements = [query["sql"] for query in captured.captured_queries]
        for sql in statements:  # warm-up
            _explained(sql, verbose=verbose)
        times = sorted(
            sum(_explained(sql, verbose=False) for sql in statements) for _ in range(RUNS // 3)
        )
        print(f"{name:34} {len(statements):>7} {statistics.median(times):10.1f} {times[-1]:10.1f}")


class _QueryTimer:
    """The queries' time, each from its call to its result, to the microsecond: Django's query
    log rounds each query to the millisecond, which for a page of ten sub-millisecond queries
    misstates the total by several."""

    def __init__(self):
        self.count, self.seconds = 0, 0.0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start
            self.count += 1


def bench_page(network) -> None:
    settings.ALLOWED_HOSTS = ["testserver"]
    coordinator = (
        Membership.objects.filter(agency__network=network, role=Role.COORDINATOR)
        .order_by("pk")
        .first()
    )
    browser = Client()
    browser.force_login(coordinator.user)
    print(f"{'scenario':34} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms':>8} {'sql ms':>8} {'queries':>7}")
    for name, asked, searched in _scenarios(network):
        params = {("q" if k == "text" else k): ("on" if v is True else v) for k, v in asked.items()}
        url = ("/services/?" if searched else "/directory/?") + urlencode(params)
        assert browser.get(url).status_code == 200, url  # warm-up
        walls, cpus, sqls = [], [], []
        for _ in range(RUNS):
            timer = _QueryTimer()
            with connection.execute_wrapper(timer):
                start, cpu = time.perf_counter(), time.process_time()
                browser.get(url)
                walls.append((time.perf_counter() - start) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
            sqls.append(timer.seconds * 1000)
        walls.sort()
        p95 = walls[int(0.95 * (len(walls) - 1))]
        print(
            f"{name:34} {statistics.median(walls):8.1f} {p95:8.1f} {statistics.median(cpus):8.1f} "
            f"{statistics.median(sqls):8.1f} {timer.count:>7}"
        )


def _backend_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend, when the server runs on this machine."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_import(network) -> None:
    """The rate, then where the time went: the import's phases (its progress stages, the
    tables' writing summed; the database stores rows while Python checks the late tables and
    prepares the next table) and, when the database runs here, its backend's CPU time."""
    phases: dict[str, float] = {}
    current = {"phase": "", "since": 0.0}

    def progress(done: int, total: int, stage: str) -> None:
        now = time.perf_counter()
        if current["phase"]:
            phases[current["phase"]] = phases.get(current["phase"], 0.0) + now - current["since"]
        current.update(phase="writing" if stage.startswith("writing ") else stage, since=now)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "directory.json"
        count = hsds_write_json(network=network, path=path)
        with transaction.atomic():
            scratch = Network.objects.create(name="Import bench", slug="import-bench")
            cpu_before = _backend_cpu_seconds()
            start = time.perf_counter()
            report = hsds_import(path=path, network=scratch, progress=progress)
            progress(0, 0, "")
            # The foreign-key checks PostgreSQL defers to COMMIT: part of an import's cost.
            connection.check_constraints()
            phases["commit checks"] = time.perf_counter() - current["since"]
            seconds = time.perf_counter() - start
            cpu_after = _backend_cpu_seconds()
            transaction.set_rollback(True)
    errors = len(report.errors)
    print(f"import: {count} services in {seconds:.1f} s = {count / seconds:,.0f} services/s")
    print(f"        ({errors} errors; rolled back)")
    print("        " + ", ".join(f"{phase} {spent:.1f} s" for phase, spent in phases.items()))
    if cpu_before is not None and cpu_after is not None:
        print(f"        database CPU {cpu_after - cpu_before:.1f} s")


if __name__ == "__main__":
    demo = Network.objects.get(slug=DEMO_NETWORK_SLUG)
    wanted = sys.argv[1:] or ["search", "import"]
    if "search" in wanted:
        bench_search(demo)
    if "sql" in wanted:
        bench_sql(demo, verbose="-v" in wanted)
    if "page" in wanted:
        bench_page(demo)
    if "import" in wanted:
        bench_import(demo)
