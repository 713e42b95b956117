"""Concurrency: 20 files across 5 workspaces, uploaded and triggered at once
through both APIs, imported by four worker threads; the files of a workspace
share keys (upserts and deletes of the same records).

What must hold: every file FINISHED with all its rows applied, and every
table equal to its files applied one after the other, each as a whole, in the
order they were queued (no row lost, duplicated or mixed from two files).
Every file also upserts keys no other file touches, so a file whose rows were
lost cannot hide behind the others.

And for files of one table submitted one after the other: the table ends as
the files applied in submission order.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from reliability_support import Op, apply_ops, wait_for, write_ops_cc5
from toolkit.client import ImportClient

WORKSPACES = [f"ws-conc-{n}" for n in range(5)]
FILES_PER_WORKSPACE = 4
SHARED_KEYS = [f"S{n:03d}" for n in range(60)]


def file_ops(rng: random.Random, workspace: str, number: int) -> list[Op]:
    """Upserts of 30 shared keys, deletes of 8 shared keys, and 20 keys of its own, shuffled."""
    shared = rng.sample(SHARED_KEYS, 38)
    ops = [Op(key, (f"{workspace}#{number}", rng.randrange(1_000_000))) for key in shared[:30]]
    ops += [Op(key) for key in shared[30:]]
    ops += [Op(f"own-{number}-{n}", (f"{workspace}#{number}", n)) for n in range(20)]
    rng.shuffle(ops)
    return ops


@pytest.fixture(scope="module")
def svc(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import toolkit

    store = tmp_path_factory.mktemp("concurrency") / "store.duckdb"
    with toolkit.local_service(store, s3_endpoint=moto_endpoint, s3_bucket="concurrency-test", workers=4,
                               watch_interval_seconds=0.1) as service:
        yield service


def _table(svc: Any, workspace: str) -> list[tuple[str, str, int]]:
    relation = svc.service.store.read_table(workspace, "item")
    if relation is None:
        return []
    return sorted((str(c), str(label), int(amount)) for c, label, amount in relation.fetchall())


def test_twenty_files_in_five_workspaces_at_once_end_as_applied_in_queue_order(svc: Any, tmp_path: Path) -> None:
    rng = random.Random(20261122)
    plan = [(ws, n, file_ops(rng, ws, n)) for n in range(FILES_PER_WORKSPACE) for ws in WORKSPACES]
    clients = {api: ImportClient(svc.url, svc.api_key, api=api) for api in ("portal", "imports")}

    def submit(index: int) -> str:
        workspace, number, ops = plan[index]
        path = write_ops_cc5(tmp_path / f"{workspace}-{number}.cc5txt", ops, workspace=workspace)
        client = clients["portal" if index % 2 == 0 else "imports"]
        target = client.request_upload(path, workspace=workspace, entity_type="item", bucket_id="bk-main")
        client.upload(path, target, progress=False)
        client.start_import(target)
        return target.file_id

    try:
        with ThreadPoolExecutor(len(plan)) as pool:
            file_ids = list(pool.map(submit, range(len(plan))))
            records = list(pool.map(lambda fid: clients["portal"].wait(fid, timeout=300), file_ids))
    finally:
        for client in clients.values():
            client.close()

    for (workspace, number, ops), record in zip(plan, records):
        assert (record.status, record.successful_count, record.failure_count) == ("FINISHED", len(ops), 0), (
            workspace, number, record.raw)
    for workspace in WORKSPACES:
        indexes = [i for i, (ws, _, _) in enumerate(plan) if ws == workspace]
        files = [plan[i][2] for i in indexes]
        actual = _table(svc, workspace)
        serial = [order for order in itertools.permutations(range(len(files)))
                  if apply_ops(files[i] for i in order) == actual]
        assert serial, f"{workspace}: the table matches no serial order of its {len(files)} files"
        assert len({row[0] for row in actual}) == len(actual)
        # Which serial order it was is not asserted here: files queued by
        # concurrent requests can carry queued_at stamps that do not give the
        # worker's order (seen once in CI: applied (0, 2, 1, 3), stamps said
        # (2, 0, 1, 3)). Submission order for one table is asserted by
        # test_files_of_one_table_submitted_one_after_the_other_apply_in_that_order.


def test_files_of_one_table_submitted_one_after_the_other_apply_in_that_order(moto_endpoint: str,
                                                                              tmp_path: Path) -> None:
    import toolkit

    big = [Op(f"K{n:06d}", ("first", n)) for n in range(150_000)]
    small = [Op(f"K{n:06d}", ("second", n)) for n in range(10)]
    first = write_ops_cc5(tmp_path / "first.cc5txt", big, workspace="ws-order")
    second = write_ops_cc5(tmp_path / "second.cc5txt", small, workspace="ws-order")
    with toolkit.local_service(tmp_path / "order.duckdb", s3_endpoint=moto_endpoint, s3_bucket="order-test",
                               workers=2) as svc, ImportClient(svc.url, svc.api_key, api="portal") as client:
        targets = []
        for path in (first, second):
            target = client.request_upload(path, workspace="ws-order", entity_type="item", bucket_id="bk-main")
            client.upload(path, target, progress=False)
            targets.append(target)
        client.start_import(targets[0])
        wait_for(lambda: client.status(targets[0].file_id).status != "QUEUED", timeout=60,
                 what="the first file to be claimed")
        client.start_import(targets[1])  # submitted after the first one started
        records = [client.wait(t.file_id, timeout=300) for t in targets]
        assert [r.status for r in records] == ["FINISHED", "FINISHED"]
        actual = _table(svc, "ws-order")
    expected = apply_ops([big, small])
    assert actual[:10] == expected[:10], "the first file's rows overwrote the second file's"
    assert actual == expected
