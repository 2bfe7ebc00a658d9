"""The nightly job: score yesterday's (or any) calls into the warehouse.

What cron, a systemd timer or a Kubernetes CronJob runs. It is `speechqa batch` with the
arguments spelled out; every option of `speechqa batch --help` passes through.
Usage: python -m pipelines.nightly RECORDINGS_DIR --out WAREHOUSE_DIR [--since DATE] [...]
"""

from __future__ import annotations

import sys

from speechqa.cli import main as speechqa_main


def main(argv: list[str]) -> int:
    return speechqa_main(["batch", *argv])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
