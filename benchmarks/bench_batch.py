"""Throughput of `speechqa batch` (1 and 2 workers, Dask) and speed of `rescore`, in one run.

One folder of calls scored by 1 and 2 local workers and by a 2-worker Dask LocalCluster, and a
1,000-call warehouse rescored.

    python -m benchmarks.bench_batch [--no-asr] [--calls 8] [--call-s 60] [--no-asr-calls 24]

Batch: calls cut from the real lca49 call (237.6 s stereo 8 kHz) at evenly spread offsets
(wrapping round the end, so no two are alike) are written as WAV into a temporary recordings
folder, and `speechqa.batch.run_batch` scores that same folder three ways, each into a fresh
warehouse: 1 local worker, 2 local workers, and a Dask `LocalCluster(n_workers=2,
threads_per_worker=1, processes=True)`. Wall time covers everything a nightly run pays: spawning
the workers, loading the models, scoring, committing (and, for Dask, starting the cluster). The
start-up is also shown on its own: the time until the first call was done, less that call's own
stage times. With transcription (the default configuration, when models/whisper-base exists)
and without it (`[measure.asr] enabled = false`; `--no-asr` runs only this). The three
warehouses are then checked to hold the same calls.

Rescore: a few real calls (samples/call_en_stereo.wav, samples/call_ru_mono.wav and the whole
lca49 call) are scored once, their rows copied under 1,000 distinct call ids (spread over 20
days) into a fresh warehouse, and `rescore_warehouse` is timed under a [score] with another
dead_air_s and criterion threshold; every call must come out with the new score_hash.

Runs on every core (2 workers need 2), so `python -m benchmarks` starts it in a child process
before pinning itself to one core. Top-level imports stay light: spawned workers import this
module before their thread limits are set.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.bench_measure import DEFAULT_CALL

REPO = Path(__file__).resolve().parents[1]
SAMPLES = (REPO / "samples" / "call_en_stereo.wav", REPO / "samples" / "call_ru_mono.wav")
MODES = ("1 local worker", "2 local workers", "dask 2 workers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--call", type=Path, default=DEFAULT_CALL, help="the real call the batch's calls are cut from")
    parser.add_argument("--no-asr", action="store_true", help="only the setting without transcription")
    parser.add_argument("--calls", type=int, default=8, help="calls in the folder with transcription")
    parser.add_argument("--call-s", type=float, default=60.0, help="length of each call (s)")
    parser.add_argument("--no-asr-calls", type=int, default=24,
                        help="calls in the folder without transcription (it is fast: more calls, less start-up noise)")
    parser.add_argument("--rescore-calls", type=int, default=1000, help="calls in the rescored warehouse")
    args = parser.parse_args(argv)
    if not args.call.is_file():
        print(f"skipped: {args.call} not found (the ../shared fixtures are absent)")
        return 0

    from speechqa.config import parse_config

    asr_config = _asr_config()
    no_asr_config = parse_config("[measure.asr]\nenabled = false\n", source="bench_batch (no ASR)")
    settings = [("no ASR", no_asr_config, args.no_asr_calls)]
    if args.no_asr:
        print("transcription: off (--no-asr)")
    elif asr_config is None:
        print("transcription: skipped, no model at models/whisper-base (`make models` builds it)")
    else:
        settings.append(("ASR", asr_config, args.calls))
    try:
        import distributed  # noqa: F401
        have_dask = True
    except ImportError:
        have_dask = False
        print("dask: skipped (distributed is not installed: pip install -e '.[dask]')")

    status = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        tmp = Path(tmp)
        rows = []
        for name, config, calls in settings:
            folder = tmp / f"calls_{calls}x{args.call_s:g}"
            if not folder.exists():
                _cut_calls(args.call, folder, calls=calls, call_s=args.call_s)
            print(f"{name}: {calls} calls of {args.call_s:g} s cut from {args.call.name} into one folder, "
                  f"scored 3 ways ({os.cpu_count()} cores)", flush=True)
            results = []
            for mode in MODES if have_dask else MODES[:2]:
                result = _run_mode(mode, folder, tmp / f"wh_{name.replace(' ', '_')}_{len(results)}", config)
                results.append(result)
                print(f"  {mode}: {result['wall_s']:.1f} s", flush=True)
            ok, message = _same_calls(results, expected=calls)
            status |= not ok
            rows.append((name, calls, results, message))
        _print_table(rows)
        seed_config = asr_config if asr_config is not None and not args.no_asr else no_asr_config
        status |= _bench_rescore(args.call, tmp, seed_config, copies=args.rescore_calls)
    print(f"bench_batch took {time.perf_counter() - started:.0f} s in all")
    return status


# ---- the batch ---------------------------------------------------------------------------------

def _asr_config():
    """The default configuration with its model folder made absolute; None without the model."""
    import dataclasses

    from speechqa.config import default_config

    config = default_config()
    model = Path(config.measure.asr.model)
    if not model.is_absolute():
        model = model if (model / "model.bin").is_file() else REPO / model
    if not (model / "model.bin").is_file():
        return None
    asr = dataclasses.replace(config.measure.asr, model=str(model.resolve()))
    return dataclasses.replace(config, measure=dataclasses.replace(config.measure, asr=asr))


def _cut_calls(source: Path, folder: Path, *, calls: int, call_s: float) -> None:
    """`calls` stereo calls of `call_s` seconds from `source`, starting at offsets spread evenly
    over it and wrapping round its end, written as 16-bit WAV."""
    import numpy as np
    import soundfile as sf

    audio, rate = sf.read(source, dtype="int16", always_2d=True)
    frames = int(call_s * rate)
    folder.mkdir(parents=True)
    for i in range(calls):
        start = i * len(audio) // calls
        index = (start + np.arange(frames)) % len(audio)
        sf.write(folder / f"call_{i:03d}.wav", audio[index], rate, subtype="PCM_16")


def _timing_progress():
    from speechqa.batch import Progress

    class Timing(Progress):
        """When the first call came back, and how long that call itself took in its worker."""

        def __init__(self):
            self.t0 = time.perf_counter()
            self.first_s = self.first_work_s = None

        def call_done(self, outcome) -> None:
            if self.first_s is None:
                self.first_s = time.perf_counter() - self.t0
                self.first_work_s = sum(outcome.stages.values())

    return Timing()


def _run_mode(mode: str, folder: Path, warehouse: Path, config) -> dict:
    from speechqa.batch import run_batch
    from speechqa.warehouse import Warehouse

    start = time.perf_counter()
    cluster = client = None
    cluster_s = 0.0
    try:
        if mode.startswith("dask"):
            from distributed import Client, LocalCluster

            from speechqa.cluster import dask_executor_factory

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
            cluster_s = time.perf_counter() - start
            kwargs = {"executor_factory": dask_executor_factory(client)}
        else:
            kwargs = {"workers": 1 if mode.startswith("1") else 2}
        progress = _timing_progress()
        progress.t0 = start
        summary = run_batch(folder, warehouse, config=config, progress=progress, **kwargs)
        wall_s = time.perf_counter() - start
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    wh = Warehouse(warehouse)
    calls = wh.read("calls", columns=["call_id", "score_total"]).to_pylist()
    return {
        "mode": mode, "wall_s": wall_s, "cluster_s": cluster_s, "summary": summary,
        "first_s": progress.first_s,
        "startup_s": None if progress.first_s is None else progress.first_s - progress.first_work_s,
        "totals": {c["call_id"]: c["score_total"] for c in calls},
        "rows": {t: wh.read(t, columns=["call_id"]).num_rows for t in ("calls", "criteria", "words")},
    }


def _same_calls(results: list[dict], *, expected: int) -> tuple[bool, str]:
    """Do the warehouses hold the same calls, every one scored?"""
    problems = []
    for r in results:
        s = r["summary"]
        if s.scored != expected or s.failed:
            problems.append(f"{r['mode']}: {s.scored} of {expected} scored, {s.failed} failed {s.failures[:2]}")
    first = results[0]
    for r in results[1:]:
        if set(r["totals"]) != set(first["totals"]):
            problems.append(f"{r['mode']}: other call_ids than {first['mode']}")
        for table in ("calls", "criteria"):
            if r["rows"][table] != first["rows"][table]:
                problems.append(f"{r['mode']}: {r['rows'][table]} rows in {table}/, {first['mode']} {first['rows'][table]}")
    if problems:
        return False, "CHECK FAILED: " + "; ".join(problems)
    differ = [c for c in first["totals"] if any(r["totals"][c] != first["totals"][c] for r in results[1:])]
    totals = "score_total identical" if not differ else f"score_total differs for {len(differ)} call(s)"
    return True, (f"check: the {len(results)} warehouses hold the same {expected} call_ids, "
                  f"{first['rows']['calls']} rows in calls/, {first['rows']['criteria']} in criteria/, "
                  f"{first['rows']['words']} in words/ each; {totals}")


def _print_table(rows) -> None:
    print()
    print(f"{'setting':<8}{'mode':<17}{'calls':>6}{'audio min':>10}{'wall s':>8}{'start-up s':>11}"
          f"{'audio h/wall h':>15}{'vs 1 worker':>12}")
    for name, calls, results, message in rows:
        base = None
        for r in results:
            audio_s = r["summary"].audio_s
            speed = audio_s / r["wall_s"]
            base = base or speed
            startup = "-" if r["startup_s"] is None else f"{r['startup_s']:.1f}"
            print(f"{name:<8}{r['mode']:<17}{calls:>6}{audio_s / 60:>10.1f}{r['wall_s']:>8.1f}{startup:>11}"
                  f"{speed:>15.1f}{speed / base:>12.2f}")
        dask = [r for r in results if r["mode"].startswith("dask")]
        if dask:
            print(f"{'':<8}(dask: starting the LocalCluster took {dask[0]['cluster_s']:.1f} s, in its wall and start-up)")
        print(f"{'':<8}{message}")
    print("wall s: from the start of the run (process spawn, model load) to the last commit; start-up s: "
          "time to the first call done less that call's own stage times")


# ---- rescore ----------------------------------------------------------------------------------

def _bench_rescore(call: Path, tmp: Path, config, *, copies: int) -> int:
    import dataclasses
    import shutil

    from speechqa.batch import Progress, run_batch
    from speechqa.rescore import rescore_warehouse

    seeds = tmp / "seed_calls"
    seeds.mkdir()
    for path in (*SAMPLES, call):
        if path.is_file():
            shutil.copy(path, seeds / path.name)
    asr = "with" if config.measure.asr.enabled else "without"
    print(f"\nrescore: scoring {len(list(seeds.iterdir()))} real calls once ({asr} transcription) ...", flush=True)
    seed_wh = tmp / "wh_seed"
    summary = run_batch(seeds, seed_wh, config=config, progress=Progress())
    if summary.failed or not summary.scored:
        print(f"rescore: FAILED to score the seed calls: {summary.failures}")
        return 1
    big = tmp / "wh_rescore"
    start = time.perf_counter()
    described = _replicate(seed_wh, big, config, copies=copies)
    print(f"rescore: {described}, built in {time.perf_counter() - start:.1f} s", flush=True)

    timing = dataclasses.replace(config.score.timing, dead_air_s=2.0)
    criteria = tuple(dataclasses.replace(c, threshold=4.0) if c.id == "no_dead_air" else c for c in config.score.criteria)
    new = dataclasses.replace(config, score=dataclasses.replace(config.score, timing=timing, criteria=criteria))
    start = time.perf_counter()
    result = rescore_warehouse(big, config=new)
    seconds = time.perf_counter() - start

    from speechqa.warehouse import Warehouse

    wh = Warehouse(big)
    calls = wh.read("calls", columns=["call_id", "score_hash"]).to_pylist()
    criteria_hashes = set(wh.read("criteria", columns=["score_hash"]).column("score_hash").to_pylist())
    fresh = sum(c["score_hash"] == new.score_hash for c in calls)
    ok = result.calls == copies and len({c["call_id"] for c in calls}) == copies and fresh == copies \
        and criteria_hashes == {new.score_hash}
    print(f"rescore: {result.calls} calls in {seconds:.1f} s = {result.calls / seconds:.0f} calls/s "
          f"(dead_air_s {config.score.timing.dead_air_s:g} -> {timing.dead_air_s:g}, no_dead_air threshold -> 4 s; "
          f"{result.changed_verdicts} verdicts changed)")
    if ok:
        print(f"check: all {fresh} calls and their criteria rows carry the new score_hash {new.score_hash}")
    else:
        print(f"CHECK FAILED: {fresh} of {copies} calls carry the new score_hash {new.score_hash}; "
              f"criteria score_hash values {sorted(criteria_hashes)}")
    return 0 if ok else 1


def _replicate(seed_dir: Path, target: Path, config, *, copies: int) -> str:
    """Copy the seed warehouse's calls `copies` times under new call ids (and paths), spread over
    20 days, into a fresh warehouse at `target`, in one commit."""
    import datetime as dt
    import hashlib

    import pyarrow as pa
    import pyarrow.compute as pc

    from speechqa.batch import model_id
    from speechqa.tables import PARTITIONED
    from speechqa.warehouse import Changes, Warehouse

    seed = Warehouse(seed_dir)
    tables = {t: seed.read(t) for t in PARTITIONED}
    calls = tables["calls"].to_pylist()
    by_call = {t: {c["call_id"]: tables[t].filter(pc.equal(tables[t]["call_id"], c["call_id"])) for c in calls}
               for t in PARTITIONED}
    out: dict[str, list[pa.Table]] = {t: [] for t in PARTITIONED}
    audio_s = 0.0
    for k in range(copies):
        original = calls[k % len(calls)]
        call_id = hashlib.sha256(f"bench_batch copy {k}".encode()).hexdigest()[:20]
        day = original["call_date"] - dt.timedelta(days=k % 20)
        audio_s += original["duration_s"] or 0.0
        for t in PARTITIONED:
            part = by_call[t][original["call_id"]]
            n = part.num_rows
            part = part.set_column(part.schema.get_field_index("call_id"), "call_id", pa.array([call_id] * n, pa.string()))
            part = part.set_column(part.schema.get_field_index("call_date"), "call_date", pa.array([day] * n, pa.date32()))
            if t == "calls":
                path = f"copies/{day.isoformat()}/{k:05d}_{original['source_path']}"
                part = part.set_column(part.schema.get_field_index("source_path"), "source_path", pa.array([path], pa.string()))
            out[t].append(part)
    rows = {t: pa.concat_tables(parts) for t, parts in out.items()}
    metadata = {"measure_hash": config.measure_hash, "score_hash": config.score_hash, "model_id": model_id(config)}
    Warehouse(target, compression=config.batch.compression, metadata=metadata).commit(
        Changes(rows=rows), snapshot_id="bench-copies-0001")
    sizes = ", ".join(f"{rows[t].num_rows} {t}" for t in PARTITIONED[1:])
    return (f"{copies} calls (copies of {len(calls)} scored calls, {audio_s / copies / 60:.1f} min each on average) "
            f"over 20 days: {sizes} rows")


if __name__ == "__main__":
    raise SystemExit(main())
