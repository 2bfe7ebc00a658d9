"""Time `speechqa report` on a warehouse of 100,000 calls (issue 12: under a minute, and a page a
browser opens without stalling).

    python -m benchmarks.bench_report [--calls 100000] [--days 90] [--agents 200]

The sample calls (samples/*.wav) are scored once without transcription (every call given a total:
`min_decided_weight = 0`), and their `calls/` rows replicated under new call ids over the days and
agents, scores and verdicts redrawn (tests/report_helpers.py), into one fresh warehouse. Then
`speechqa report` runs on it as a user runs it, in a child process (Python start-up, reading,
aggregating and writing the page all counted), for the default period (the last 7 days) and for
the whole warehouse. With Debian's `chromium` present, the page is also loaded headless and timed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_S = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--agents", type=int, default=200)
    args = parser.parse_args(argv)

    from speechqa.batch import run_batch
    from speechqa.config import parse_config
    from tests.report_helpers import replicate_calls

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "rec").mkdir()
        for path in sorted((ROOT / "samples").glob("*.wav")):
            shutil.copy(path, tmp / "rec" / path.name)
        config = parse_config("[measure.asr]\nenabled = false\n[score]\nmin_decided_weight = 0.0\n", source="bench_report")
        run_batch(tmp / "rec", tmp / "seed", config=config, executor_factory=lambda threads: ThreadPoolExecutor(1))
        start = time.perf_counter()
        rows = replicate_calls(tmp / "seed", tmp / "wh", copies=args.calls, days=args.days, agents=args.agents,
                               last_day=date(2026, 11, 23))
        print(f"warehouse: {rows.num_rows} calls over {args.days} days, {args.agents} agents, "
              f"built in {time.perf_counter() - start:.1f} s", flush=True)
        status = 0
        for label, extra in (("last 7 days", []), (f"all {args.days} days", ["--since", "2026-01-01"])):
            out = tmp / "night.html"
            start = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "speechqa", "report", str(tmp / "wh"), "--html", str(out), *extra],
                                 capture_output=True, text=True, cwd=ROOT)
            seconds = time.perf_counter() - start
            ok = run.returncode == 0 and seconds < LIMIT_S
            status |= not ok
            print(f"report ({label}): {seconds:.1f} s wall (limit {LIMIT_S:.0f} s), page {out.stat().st_size / 1024:.0f} kB"
                  f"{'' if ok else '  FAILED: ' + run.stderr.strip()[-300:]}", flush=True)
            print(f"  {run.stdout.strip()}")
            browser = shutil.which("chromium")
            if browser and out.exists():
                start = time.perf_counter()
                subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp / 'profile'}",
                                "--dump-dom", out.as_uri()], capture_output=True, timeout=120)
                print(f"  chromium loads and lays it out (headless, start-up included): {time.perf_counter() - start:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
