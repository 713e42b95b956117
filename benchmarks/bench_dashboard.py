"""Benchmark: the Dashboard page over 100,000 (or ``--records``) import records (cold target: <= 3 s).

The page reads its data through ``session.load_imports()``, which takes an
injected source from ``st.session_state[IMPORTS_SOURCE_KEY]`` before asking
the API. This script injects 100,000 synthetic records shaped like
``ImportClient.list_imports()`` output there, so the page runs its real code:
filters, the cached DuckDB aggregation, KPI metrics and five plotly charts.

Figures (median of ``--repeat`` runs, steps interleaved):

- aggregate: ``dashboard_data`` alone (DuckDB, cold), wall and CPU seconds;
- baseline: AppTest of an empty page with the same records injected (the
  harness's own cost, which includes carrying the records in session state);
- cold: a fresh AppTest with empty caches (aggregation included);
- warm: a fresh AppTest while the aggregates are cached (within the TTL).

    .venv/bin/python benchmarks/bench_dashboard.py [--records 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from toolkit.app_support import session
from toolkit.app_support.aggregations import dashboard_data
from toolkit.app_support.synthetic import synthetic_imports
from toolkit.app_support.ui import compact_number

PAGE = Path(__file__).resolve().parent.parent / "app_pages" / "dashboard.py"
EMPTY_PAGE = "import streamlit as st\nst.title('Empty')\n"
TARGET_SECONDS = 3.0
AGGREGATE_TARGET_SECONDS = 1.5


def timed_run(app: AppTest) -> float:
    started = time.perf_counter()
    app.run()
    seconds = time.perf_counter() - started
    if app.exception or app.error:
        raise SystemExit(f"the page failed: {[e.value for e in (*app.exception, *app.error)]}")
    return seconds


def dashboard_app(records) -> AppTest:
    app = AppTest.from_file(str(PAGE), default_timeout=120)
    app.session_state[session.IMPORTS_SOURCE_KEY] = records
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    records = synthetic_imports(args.records, seed=1)
    baselines, aggregate, aggregate_cpu, cold, warm = [], [], [], [], []
    for _ in range(args.repeat):
        empty = AppTest.from_string(EMPTY_PAGE)
        empty.session_state[session.IMPORTS_SOURCE_KEY] = records
        baselines.append(timed_run(empty))
        started, cpu = time.perf_counter(), time.process_time()
        dashboard_data(records)
        aggregate.append(time.perf_counter() - started)
        aggregate_cpu.append(time.process_time() - cpu)
        session.dashboard_for.clear()
        cold.append(timed_run(dashboard_app(records)))
        warm.append(timed_run(dashboard_app(records)))
    baseline = statistics.median(baselines)
    check = dashboard_app(records)
    check.run()
    shown = check.metric[0].value
    assert shown == compact_number(args.records), f"the page shows {shown} imports, not {args.records:,}"

    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"Dashboard page, {args.records:,} import records, median of {args.repeat} runs (load average {load})")
    print(f"  aggregate (dashboard_data, cold): {statistics.median(aggregate):.3f} s wall, "
          f"{statistics.median(aggregate_cpu):.3f} s CPU (target <= {AGGREGATE_TARGET_SECONDS} s)")
    print(f"  baseline (empty page, same records injected): {baseline:.3f} s")
    print(f"  dashboard, cold cache: {cold_s:.3f} s  = {cold_s / baseline:.1f}x baseline")
    print(f"  dashboard, warm cache: {warm_s:.3f} s  = {warm_s / baseline:.1f}x baseline")
    verdict = "OK" if cold_s <= TARGET_SECONDS else "OVER TARGET"
    print(f"  target <= {TARGET_SECONDS:.0f} s (cold): {verdict}")
    if cold_s > TARGET_SECONDS:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
