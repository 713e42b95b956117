"""Demo data: a realistic import history, made by the real service.

``run_demo(client)`` generates good and defective cc5 files (several
workspaces and entity types; mistyped values, short rows, wrong footers,
files for the wrong workspace, schema drift, never-uploaded files) and runs
every one through the API like a user would: request an upload, upload,
trigger the import asynchronously, wait. Nothing is inserted by hand: every
status, count and failure code is what the service decided.

    >>> import random
    >>> f = make_demo_file(random.Random(1), workspace="ws-eu", entity="customer", defect="clean")
    >>> f.data.splitlines()[1].startswith("01|customer|ws-eu|")
    True
    >>> f.expect
    'FINISHED'

Dates: the service stamps ``date_created`` (and the processing times) with
its own clock. Run against a remote API, the history spans the run (a few
hundred imports over some tens of seconds). Run against an in-process
service started with a ``DemoClock`` (``local_service(clock=...)``, the
app's embedded service), ``run_demo(..., clock=clock)`` backdates it: the
imports are spread over the last ``days`` days (a few days without any, as
real histories have), one day at a time, with the clock set to that day.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from toolkit.statuses import IN_FLIGHT_STATUSES, TERMINAL_STATUSES
from toolkit.errors import ImportTimeout

__all__ = [
    "DemoFile",
    "ENTITIES",
    "ROW_DEFECTS",
    "FILE_DEFECTS",
    "DEFECTS",
    "make_demo_file",
    "WORKSPACES",
    "PlannedImport",
    "DemoSummary",
    "DemoClock",
    "plan_demo",
    "store_is_empty",
    "run_demo",
    "demo_service",
]

_FIRST = ("Ada", "Alan", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger")
_LAST = ("Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen")
_CITIES = ("Berlin", "Lyon", "Austin", "Osaka", "Lima", "Nairobi", "Perth", "Oslo")


def _date(rng: random.Random) -> str:
    day = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(2500))
    return day.strftime("%Y%m%d")


#: entity type -> (fields as (code, type), row generator). The first field is the key.
ENTITIES: dict[str, tuple[list[tuple[str, str]], Callable[[random.Random, int], list[str]]]] = {
    "customer": (
        [("customer_code", "string"), ("name", "string"), ("credit", "number"), ("active", "bool"),
         ("since", "date"), ("tags", "array"), ("profile", "object")],
        lambda r, i: [f"C{i:06d}", f"{r.choice(_FIRST)} {r.choice(_LAST)}", f"{r.uniform(0, 9000):.2f}",
                      r.choice(["true", "false"]), _date(r), ",".join(r.sample(["vip", "eu", "new", "b2b"], 2)),
                      json.dumps({"tier": r.choice(["gold", "silver"]), "city": r.choice(_CITIES)})],
    ),
    "account": (
        [("account_no", "string"), ("customer_code", "string"), ("balance", "number"),
         ("currency", "string"), ("opened", "date"), ("is_closed", "bool")],
        lambda r, i: [f"A{i:08d}", f"C{r.randrange(999999):06d}", f"{r.uniform(-500, 50000):.2f}",
                      r.choice(["EUR", "USD", "JPY", "BRL"]), _date(r), r.choice(["0", "1"])],
    ),
    "transaction": (
        [("txn_ref", "string"), ("account_no", "string"), ("amount", "number"), ("quantity", "int"),
         ("booked", "date"), ("channel", "string")],
        lambda r, i: [f"T{i:09d}", f"A{r.randrange(10**8):08d}", f"{r.uniform(1, 2000):.2f}",
                      str(r.randint(1, 20)), _date(r) + f"{r.randrange(24):02d}{r.randrange(60):02d}00",
                      r.choice(["web", "pos", "atm", "app"])],
    ),
    "product": (
        [("sku", "string"), ("title", "string"), ("price", "number"), ("stock", "int"),
         ("attrs", "object"), ("categories", "list")],
        lambda r, i: [f"SKU-{i:05d}", f"{r.choice(['Red', 'Blue', 'Small', 'Large'])} widget #/# {i}",
                      f"{r.uniform(1, 300):.2f}", str(r.randint(0, 500)),
                      json.dumps({"color": r.choice(["red", "blue"])}), json.dumps(r.sample(["home", "tools", "toys"], 2))],
    ),
}

#: Row-level defects: the file is applied, the bad rows are rejected (FINISHED, failure_count > 0).
ROW_DEFECTS: dict[str, Callable[[list[str], list[tuple[str, str]], random.Random], list[str]]] = {
    "bad_values": lambda row, fields, r: _break_typed_value(row, fields, r),
    # Two values short: one missing value could read as a trailing separator.
    "short_row": lambda row, fields, r: row[:-2],
    "empty_key": lambda row, fields, r: [""] + row[1:],
}

#: File-level defects: nothing is applied (FAILED with this failure code).
FILE_DEFECTS: dict[str, str] = {
    "bad_header": "BAD_HEADER",
    "missing_footer": "MISSING_FOOTER",
    "footer_count": "FOOTER_COUNT_MISMATCH",
    "unknown_type": "UNKNOWN_TYPE",
    "key_not_in_fields": "KEY_NOT_IN_FIELDS",
    "duplicate_field": "DUPLICATE_FIELD",
    "wrong_workspace": "WORKSPACE_MISMATCH",
    # A valid file whose field type disagrees with the table already imported.
    "schema_drift": "SCHEMA_MISMATCH",
}
DEFECTS: tuple[str, ...] = ("clean", "warnings", *ROW_DEFECTS, *FILE_DEFECTS)

_BAD_VALUES = {"int": "12x", "number": "1,5", "bool": "yes", "date": "20261345",
               "object": "{not json", "list": "[1,", "array": None, "string": None}


@dataclass(frozen=True)
class DemoFile:
    """One generated file: its name, text, workspace and the expected outcome.

    ``workspace`` is the workspace the upload is requested for; a
    ``wrong_workspace`` file names another one in its 01 row.
    """

    name: str
    data: str
    workspace: str
    entity: str
    defect: str
    rows: int
    bad_rows: int
    expect: str  # FINISHED or FAILED
    failure_code: str | None = None


def make_demo_file(
    rng: random.Random,
    *,
    workspace: str,
    entity: str,
    defect: str = "clean",
    rows: int | None = None,
    created: dt.datetime | None = None,
    serial: int = 0,
    other_workspace: str = "ws-elsewhere",
) -> DemoFile:
    """Generate one cc5 file for ``entity`` in ``workspace`` with ``defect`` (see ``DEFECTS``).

        >>> import random
        >>> f = make_demo_file(random.Random(2), workspace="ws-us", entity="product",
        ...                    defect="footer_count", rows=3)
        >>> f.expect, f.failure_code, f.data.splitlines()[-1]
        ('FAILED', 'FOOTER_COUNT_MISMATCH', '99|4|')
    """
    if defect not in DEFECTS:
        raise ValueError(f"unknown demo defect {defect!r}; choose one of {', '.join(DEFECTS)}")
    fields, make_row = ENTITIES[entity]
    fields = list(fields)
    count = rows if rows is not None else rng.randint(5, 40)
    created = created or dt.datetime.now(dt.timezone.utc)
    start = rng.randrange(10**5) * 100
    data_rows = [make_row(rng, start + i) for i in range(count)]
    bad_rows = 0
    if defect == "warnings":
        fields.append(("source_id", "string"))  # reserved name: a warning, still applied
        data_rows = [row + [f"S{rng.randrange(99)}"] for row in data_rows]
        if len(data_rows) > 1:
            data_rows[-1] = [data_rows[0][0], *data_rows[-1][1:]]  # a DUPLICATE_KEY warning
    if defect in ROW_DEFECTS:
        bad_rows = min(count, rng.randint(1, 4))
        for index in rng.sample(range(count), bad_rows):
            data_rows[index] = ROW_DEFECTS[defect](data_rows[index], fields, rng)

    keys = [fields[0][0]]
    typed = [f"{code}:{kind}" for code, kind in fields]
    if defect == "unknown_type":
        typed[2] = f"{fields[2][0]}:money"
    if defect == "schema_drift":
        typed[2] = f"{fields[2][0]}:string"  # was a number: every value still reads as text
    if defect == "key_not_in_fields":
        keys = ["missing_key"]
    if defect == "duplicate_field":
        typed.append(typed[1])
        data_rows = [row + [row[1]] for row in data_rows]
    create_time = created.strftime("%Y%m%d%H%M%S")
    if defect == "bad_header":
        create_time = created.strftime("%Y-%m-%d %H:%M")
    named_workspace = other_workspace if defect == "wrong_workspace" else workspace
    lines = [
        f"00|DEMO|cc5|{create_time}|demo-{serial:05d}",
        f"01|{entity}|{named_workspace}|bk-main|{rng.choice(['CRM', 'ERP', 'POS'])}|UPSERT",
        "02|" + "|".join(keys),
        "03|" + "|".join(typed),
        *("10|" + "|".join(row) + "|" for row in data_rows),
    ]
    footer_count = count + (1 if defect == "footer_count" else 0)
    if defect != "missing_footer":
        lines.append(f"99|{footer_count}|")
    failure_code = FILE_DEFECTS.get(defect)
    return DemoFile(
        name=f"{entity}_{created:%Y%m%d_%H%M}_{serial:05d}.cc5txt",
        data="\n".join(lines) + "\n",
        workspace=workspace,
        entity=entity,
        defect=defect,
        rows=count,
        bad_rows=bad_rows,
        expect="FAILED" if failure_code else "FINISHED",
        failure_code=failure_code,
    )


def _break_typed_value(row: list[str], fields: list[tuple[str, str]], rng: random.Random) -> list[str]:
    """Replace one typed (non-string, non-key) value with a malformed one."""
    candidates = [i for i, (_, kind) in enumerate(fields) if i > 0 and _BAD_VALUES.get(kind)]
    index = rng.choice(candidates)
    broken = list(row)
    broken[index] = _BAD_VALUES[fields[index][1]]  # type: ignore[assignment]
    return broken


# -- running the demo through a service ---------------------------------------

#: Workspaces and how often their files are defective (ws-latam struggles).
WORKSPACES: dict[str, float] = {"ws-eu": 0.15, "ws-us": 0.25, "ws-apac": 0.3, "ws-latam": 0.6}
_DEFECT_WEIGHTS: dict[str, float] = {
    "warnings": 3, "bad_values": 6, "short_row": 3, "empty_key": 2, "bad_header": 2,
    "missing_footer": 2, "footer_count": 3, "unknown_type": 1, "key_not_in_fields": 1,
    "duplicate_field": 1, "wrong_workspace": 2, "not_uploaded": 1,
}
#: Share of the imports kept for the second phase (schema drift, deletions).
_LATE_SHARE = 0.04


@dataclass(frozen=True)
class PlannedImport:
    """One import of the demo: the file and what to do with it."""

    file: DemoFile
    upload: bool = True
    delete_after: bool = False
    #: How long before the plan's ``now`` the import happens (0 without backdating).
    days_ago: float = 0.0


class DemoClock:
    """The service's clock for the demo: ``time.time()`` shifted by a settable offset.

    Pass it to ``local_service(clock=...)`` and to ``run_demo(..., clock=...)``:
    the demo moves it to each day of the history it makes, then back to now.

        >>> clock = DemoClock()
        >>> clock.set(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc))
        >>> abs(clock() - dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc).timestamp()) < 5
        True
        >>> clock.reset(); abs(clock() - time.time()) < 1
        True
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def set(self, moment: dt.datetime) -> None:
        """From now on the clock reads ``moment`` (and runs on from there)."""
        self.offset = moment.timestamp() - time.time()

    def reset(self) -> None:
        """Back to the wall clock."""
        self.offset = 0.0


@dataclass
class DemoSummary:
    """What the demo did: the final statuses and failure codes the service gave."""

    imports: int = 0
    statuses: Counter = field(default_factory=Counter)
    failure_codes: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    file_ids: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Imports that have ended so far."""
        return len(self.file_ids)

    def add(self, record: Any) -> None:
        """Count one ended import's final record."""
        self.statuses[record.status] += 1
        if record.failure_code:
            self.failure_codes[record.failure_code] += 1
        self.file_ids.append(record.file_id)

    def describe(self) -> str:
        """One line: counts per status.

            >>> DemoSummary(3, Counter({"FINISHED": 2, "FAILED": 1})).describe()
            '3 imports (FINISHED 2, FAILED 1)'
        """
        parts = ", ".join(f"{status} {n}" for status, n in self.statuses.most_common())
        return f"{self.imports} imports ({parts})"


def plan_demo(
    count: int = 300, *, seed: int = 7, now: dt.datetime | None = None, days: int = 0
) -> list[PlannedImport]:
    """The demo's imports, in the order they are sent (pure: no I/O).

    Mostly clean files; each workspace has its own defect rate; some files
    are never uploaded, some finished ones get deleted, and the last few are
    schema drift on tables imported before. Same seed and ``now``, same files.
    With ``days``, each import gets a moment in the ``days`` before ``now``
    (oldest first; two spans of days have none) and its file that create time.

        >>> plan = plan_demo(50, seed=1)
        >>> len(plan), plan[-1].file.defect
        (50, 'schema_drift')
    """
    rng = random.Random(seed)
    created = now or dt.datetime.now(dt.timezone.utc)  # the files' 00 create time
    late = max(1, round(count * _LATE_SHARE)) if count >= 10 else 0
    names, weights = list(_DEFECT_WEIGHTS), list(_DEFECT_WEIGHTS.values())
    moments = _history_moments(random.Random(seed + 1), count - late, days)
    plan: list[PlannedImport] = []
    for serial, days_ago in enumerate(moments):
        workspace = rng.choices(list(WORKSPACES), weights=[4, 3, 2, 1])[0]
        defect = rng.choices(names, weights)[0] if rng.random() < WORKSPACES[workspace] else "clean"
        upload = defect != "not_uploaded"
        file = make_demo_file(rng, workspace=workspace, entity=rng.choice(list(ENTITIES)),
                              defect=defect if upload else "clean",
                              created=created - dt.timedelta(days=days_ago), serial=serial)
        plan.append(PlannedImport(file, upload=upload, delete_after=rng.random() < 0.02, days_ago=days_ago))
    # Schema drift comes last: it needs the clean tables imported before.
    imported = sorted({(p.file.workspace, p.file.entity) for p in plan if p.file.defect == "clean" and p.upload})
    for _ in range(late):
        workspace, entity = rng.choice(imported)
        plan.append(PlannedImport(make_demo_file(rng, workspace=workspace, entity=entity,
                                                 defect="schema_drift", created=created, serial=len(plan))))
    return plan


def _history_moments(rng: random.Random, n: int, days: int) -> list[float]:
    """``n`` moments (days before now, oldest first) over ``days`` days, skipping two quiet spans.

        >>> moments = _history_moments(random.Random(1), 100, 30)
        >>> moments == sorted(moments, reverse=True), 0 < min(moments), max(moments) < 30
        (True, True, True)
        >>> _history_moments(random.Random(1), 3, 0)
        [0.0, 0.0, 0.0]
    """
    if days <= 0:
        return [0.0] * n
    quiet = {int(days * 0.3), int(days * 0.3) + 1, int(days * 0.7)}  # an outage, a holiday
    active = [d for d in range(days) if d not in quiet] or list(range(days))
    # Whole days ago plus a working hour (08:00-18:00 back from now), oldest first.
    moments = [rng.choice(active) + rng.uniform(8, 18) / 24 for _ in range(n)]
    return sorted((min(m, days - 0.01) for m in moments), reverse=True)


def store_is_empty(client: Any) -> bool:
    """True when the API lists no file at all for this key."""
    return client.count() == 0


def run_demo(
    client: Any,
    count: int = 300,
    *,
    seed: int = 7,
    workers: int = 8,
    timeout: float = 600.0,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    clock: DemoClock | None = None,
    days: int = 30,
) -> DemoSummary:
    """Run ``count`` generated imports through the API behind ``client``.

    ``workers`` threads request, upload and trigger (asynchronously) while
    the service works through its queue; one list call per half second
    follows them all. Finished files planned for deletion are then deleted.
    The schema-drift files go last, once the tables they drift from exist.
    ``on_progress(done, total)`` is called as imports end. Raises
    ``ImportTimeout`` if the service has not ended them within ``timeout``.

    With ``clock`` (the ``DemoClock`` of the service behind ``client``) the
    history is backdated over the last ``days`` days: the imports of one day
    run together with the clock set to that day; the clock is reset at the end.

        >>> with toolkit.local_service() as svc:                          # doctest: +SKIP
        ...     summary = run_demo(ImportClient(svc.url, svc.api_key), 300)
        >>> summary.describe()                                            # doctest: +SKIP
        '300 imports (FINISHED 240, FAILED 56, DELETED 4)'
    """
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    now = dt.datetime.now(dt.timezone.utc)
    plan = plan_demo(count, seed=seed, now=now, days=days if clock is not None else 0)
    summary = DemoSummary(imports=len(plan))
    bar = tqdm(total=len(plan), desc="Demo imports", unit="import", disable=not progress)

    def ended(record: Any) -> None:
        summary.add(record)
        bar.update(1)
        if on_progress is not None:
            on_progress(summary.done, summary.imports)

    # Groups sent together: the schema drift last; with a clock, one group per day.
    groups: dict[tuple[bool, int], list[PlannedImport]] = {}
    for planned in plan:
        day = int(planned.days_ago) if clock is not None else 0
        groups.setdefault((planned.file.defect == "schema_drift", -day), []).append(planned)
    try:
        with tempfile.TemporaryDirectory(prefix="toolkit-demo-") as folder, \
                ThreadPoolExecutor(max_workers=workers) as pool:
            for _, group in sorted(groups.items(), key=lambda item: item[0]):
                moment = now - dt.timedelta(days=group[0].days_ago)
                if clock is not None:
                    clock.set(moment)
                since = moment - dt.timedelta(minutes=10)  # clock skew
                file_ids = dict(zip(pool.map(lambda p: _send(client, p, Path(folder)), group), group))
                to_delete: list[str] = []
                for record in _until_ended(client, set(file_ids), since, deadline):
                    if file_ids[record.file_id].delete_after and record.status == "FINISHED":
                        to_delete.append(record.file_id)
                    else:
                        ended(record)
                for record in pool.map(client.delete, to_delete):
                    ended(record)
    finally:
        if clock is not None:
            clock.reset()
        bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _send(client: Any, planned: PlannedImport, folder: Path) -> str:
    """Request an upload, upload (unless planned otherwise), trigger asynchronously; the file id."""
    file = planned.file
    path = folder / f"{file.workspace}-{file.name}"
    path.write_text(file.data, encoding="utf-8")
    portal = client.api == "portal"
    options = {"description": f"demo {file.defect}"} if portal else {}  # the imports API takes none
    target = client.request_upload(path.name, workspace=file.workspace, entity_type=file.entity,
                                   bucket_id="bk-main", **options)
    # Never uploading is a portal story (the trigger finds no file); the imports
    # API would only fail it once the upload URL expires, an hour later.
    if planned.upload or not portal:
        client.upload(path, target, progress=False)
    client.start_import(target)
    path.unlink()
    return target.file_id


def _until_ended(client: Any, waiting: set[str], since: dt.datetime, deadline: float) -> Iterator[Any]:
    """Yield each file's final record once it has ended.

    Polls the list of files still in flight (it shrinks as they end, so each
    poll stays one small call), then reads the ended ones' records.
    """
    waiting = set(waiting)
    while waiting:
        in_flight = {r.file_id for r in client.list_records(statuses=sorted(IN_FLIGHT_STATUSES), created_after=since)}
        ended = waiting - in_flight
        if ended:
            for record in client.list_records(statuses=sorted(TERMINAL_STATUSES), created_after=since):
                if record.file_id in ended:
                    waiting.discard(record.file_id)
                    yield record
        if not waiting:
            return
        if time.monotonic() > deadline:
            some = sorted(waiting)[0]
            raise ImportTimeout(f"{len(waiting)} demo imports had not ended in time (e.g. {some})",
                                file_id=some)
        time.sleep(0.5)


@contextmanager
def demo_service(
    count: int = 300, *, seed: int = 7, workers: int = 8, progress: bool = True, days: int = 0, **settings: Any
) -> Iterator[tuple[Any, DemoSummary]]:
    """An embedded local service filled with the demo, for the length of the block.

    ``days`` > 0 backdates the history over that many days (a ``DemoClock``).
    ``settings`` go to ``toolkit.local_service`` (``store``, ``workers``...).

        >>> with demo_service(50) as (svc, summary):                       # doctest: +SKIP
        ...     print(svc.url, summary.describe())
    """
    from toolkit.client import ImportClient
    from toolkit.service import local_service

    clock = DemoClock() if days > 0 else None
    with local_service(clock=clock, **settings) as service:
        with ImportClient(service.url, service.api_key) as client:
            summary = run_demo(client, count, seed=seed, workers=workers, progress=progress, clock=clock,
                               days=days)
        yield service, summary
