"""The warehouse's tables: every column's name and type, defined here and nowhere else.

Flat columns only (Tableau's engine refuses nested Parquet), timestamps in microseconds UTC
(Spark rejects nanoseconds), and `call_date` inside every partitioned file (Power BI and Tableau
file connectors do not read folder names; the day folders are `day=`, speechqa.warehouse). The
metric columns come from speechqa.metrics, so `score --json` and the warehouse use the same names.
"""

from __future__ import annotations

import pyarrow as pa

from speechqa.metrics import METRICS
from speechqa.names import STAGES

PARTITIONED = ("calls", "criteria", "turns", "utterances", "words", "baselines")   # by day: day=YYYY-MM-DD folders
SINGLE_FILE = ("errors", "runs")
TABLES = PARTITIONED + SINGLE_FILE

UTC_US = pa.timestamp("us", tz="UTC")
KNOWN_METADATA = ("agent_id", "queue", "direction", "customer_id")
QUALITY_FIELDS = (
    ("quality_narrowband", pa.bool_()),
    ("quality_clipping", pa.bool_()),
    ("quality_clipping_share", pa.float64()),
    ("quality_truncated", pa.bool_()),
    ("quality_dual_mono", pa.bool_()),
    ("quality_channel_correlation", pa.float64()),
    ("quality_crosstalk", pa.bool_()),
    ("quality_crosstalk_s", pa.float64()),
    ("quality_snr_db", pa.float64()),
    ("quality_asr_confidence", pa.float64()),
    ("quality_speakers", pa.int64()),                   # voices in a mono call (1 or 2); null when not diarized
    ("quality_diarization_confidence", pa.float64()),
)
# Columns that say under which configuration and model a row was made. Every Parquet file's
# metadata lists the values its rows hold, so it stays true when a file mixes runs.
PROVENANCE = ("measure_hash", "score_hash", "model_id")


def _key() -> list[tuple[str, pa.DataType]]:
    return [("call_id", pa.string()), ("call_date", pa.date32())]


_FIELDS: dict[str, list[tuple[str, pa.DataType]]] = {
    "calls": [
        *_key(),
        ("source_path", pa.string()),          # relative to the recordings folder (agent leg of a pair)
        ("source_caller_path", pa.string()),   # the caller leg of a two-file call, else null
        ("source_size_bytes", pa.int64()),
        ("source_mtime_ns", pa.int64()),
        ("source_format", pa.string()),
        ("sample_rate_hz", pa.int32()),
        ("channels", pa.int32()),
        ("call_start_utc", UTC_US),
        ("call_time_source", pa.string()),     # filename, sidecar or mtime
        *[(name, pa.string()) for name in KNOWN_METADATA],
        ("config_override", pa.string()),      # the [batch.overrides] entry applied, else null
        ("agent_channel", pa.string()),        # left, right; null when no channel is the agent's (mono)
        ("mono", pa.bool_()),                  # one channel of speech (one channel, or dual mono)
        ("diarized", pa.bool_()),              # a mono call's parties split by diarization
        ("roles_method", pa.string()),
        ("roles_evidence", pa.string()),
        ("language", pa.string()),
        ("language_method", pa.string()),
        *QUALITY_FIELDS,
        *[(m.name, pa.int64() if m.dtype == "int" else pa.float64()) for m in METRICS],
        ("score_total", pa.float64()),          # null when score_decided_weight < [score] min_decided_weight
        ("score_decided_weight", pa.float64()), # share of the criteria weight that passed or failed, 0..1
        ("score_abstained_weight", pa.float64()),
        ("score_fatal_failures", pa.string()),  # criterion ids, comma-separated
        ("measure_hash", pa.string()),
        ("score_hash", pa.string()),
        ("model_id", pa.string()),
        ("speechqa_version", pa.string()),
        ("run_id", pa.string()),
        ("processed_utc", UTC_US),
        ("scored_utc", UTC_US),
    ],
    "criteria": [
        *_key(),
        ("criterion_id", pa.string()),
        ("label", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("threshold", pa.float64()),
        ("direction", pa.string()),
        ("verdict", pa.string()),              # pass, fail, abstain
        ("weight", pa.float64()),
        ("fatal", pa.bool_()),
        ("support", pa.float64()),
        ("evidence_start_s", pa.float64()),    # the worst moment behind the verdict
        ("evidence_end_s", pa.float64()),
        ("evidence", pa.string()),             # every moment, "start-end" in seconds, ';'-separated
        ("note", pa.string()),
        ("baseline", pa.string()),             # "agent": value and threshold are z-scores against the agent's baseline
        ("score_hash", pa.string()),
        ("run_id", pa.string()),
    ],
    "turns": [
        *_key(),
        # Measured (measure_hash set): speech (the VAD timeline), turn (with its level, F0, words
        # and articulation rate), backchannel, level_pair (an answered caller turn: other_* is the
        # caller's turn). Derived under [score] (score_hash set): silence, overtalk, interruption,
        # pause. Kinds: speechqa.names.
        ("kind", pa.string()),
        ("party", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("duration_s", pa.float64()),
        ("level_dbfs", pa.float64()),
        ("f0_median_hz", pa.float64()),
        ("articulation_syll_per_s", pa.float64()),
        ("words", pa.int64()),
        ("other_start_s", pa.float64()),
        ("other_end_s", pa.float64()),
        ("level_diff_db", pa.float64()),
        ("measure_hash", pa.string()),
        ("score_hash", pa.string()),
    ],
    "utterances": [
        *_key(),
        ("utterance_index", pa.int32()),
        ("party", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("text", pa.string()),                 # PII masked as configured
        ("avg_logprob", pa.float64()),
        ("language", pa.string()),
        ("measure_hash", pa.string()),
        ("model_id", pa.string()),
    ],
    "words": [
        *_key(),
        ("utterance_index", pa.int32()),
        ("word_index", pa.int32()),
        ("party", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("text", pa.string()),
        ("probability", pa.float64()),
        ("f0_peak_hz", pa.float64()),          # the word's F0 peak (90th percentile of its voiced frames); null: too few
        ("level_dbfs", pa.float64()),          # its loudest 30 ms frame, gain offset applied (emphasis)
        ("measure_hash", pa.string()),
        ("model_id", pa.string()),
    ],
    "baselines": [
        # Each call of an agent against the agent's own earlier calls (speechqa.baseline): one
        # row per call and metric; calls without an agent_id have none.
        *_key(),
        ("agent_id", pa.string()),
        ("call_start_utc", UTC_US),            # the order of the agent's calls
        ("metric", pa.string()),
        ("value", pa.float64()),               # the call's own value
        ("baseline_median", pa.float64()),     # median over the agent's last window_calls earlier calls measuring it
        ("baseline_spread", pa.float64()),     # robust SD: 1.4826 x MAD (1.2533 x mean absolute deviation when MAD is 0)
        ("baseline_calls", pa.int64()),        # the earlier calls it rests on
        ("z", pa.float64()),                   # (value - baseline_median) / baseline_spread
        ("note", pa.string()),                 # why z is null
        ("score_hash", pa.string()),
        ("run_id", pa.string()),
    ],
    "errors": [
        ("source_path", pa.string()),          # relative to the recordings folder
        ("fingerprint", pa.string()),          # size and modification time, or the content id
        ("call_id", pa.string()),
        ("error_type", pa.string()),
        ("message", pa.string()),
        ("run_id", pa.string()),
        ("first_failure_utc", UTC_US),
        ("last_failure_utc", UTC_US),
        ("failures", pa.int64()),
    ],
    "runs": [
        ("run_id", pa.string()),
        ("command", pa.string()),              # batch, rescore, purge
        ("status", pa.string()),               # running (or killed), complete, failed
        ("started_utc", UTC_US),
        ("ended_utc", UTC_US),
        ("speechqa_version", pa.string()),
        ("measure_hash", pa.string()),
        ("score_hash", pa.string()),
        ("model_id", pa.string()),
        ("recordings_dir", pa.string()),
        ("calls_found", pa.int64()),
        ("calls_scored", pa.int64()),
        ("calls_skipped", pa.int64()),
        ("calls_failed", pa.int64()),
        ("calls_replaced", pa.int64()),
        ("calls_removed", pa.int64()),
        ("audio_s", pa.float64()),
        *[(f"stage_{name}_s", pa.float64()) for name in STAGES],
    ],
}

# Columns whose number depends on the configuration or the recordings: verdict_<criterion id>
# and meta_<filename or sidecar field>, strings, appended after the fixed ones.
DYNAMIC_PREFIXES = {"calls": ("verdict_", "meta_")}


def table_schema(table: str) -> pa.Schema:
    """The fixed columns of `table`."""
    return pa.schema(_FIELDS[table])


def to_table(table: str, rows: list[dict]) -> pa.Table:
    """Rows (dicts) as an Arrow table of `table`'s schema; unknown keys must be dynamic columns."""
    schema = table_schema(table)
    extra = sorted({k for row in rows for k in row} - set(schema.names))
    allowed = DYNAMIC_PREFIXES.get(table, ())
    bad = [k for k in extra if not k.startswith(allowed)]
    if bad:
        raise KeyError(f"columns {bad} are not in the {table!r} schema (speechqa.tables)")
    for name in extra:
        schema = schema.append(pa.field(name, pa.string()))
    return pa.Table.from_pylist(rows, schema=schema)
