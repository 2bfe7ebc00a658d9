"""The README's ways of reading the warehouse, run as printed ("Reading it"), on a warehouse that
`batch` wrote over several days, a later day with a column the earlier ones lack; in the `day=`
layout and in the `call_date=` layout of warehouses written before, which the next commit moves."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from batch_helpers import batch_config, make_folder, write_call
from speechqa.batch import run_batch
from speechqa.rescore import rescore_warehouse
from speechqa.warehouse import Changes, Warehouse

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLE = "/srv/qa-warehouse/current/calls"   # the table folder the README's recipes name
TABLES = ("calls", "criteria", "turns")        # what a batch without speech recognition writes
LATER_DAY = date(2026, 11, 25)


def one_thread(threads: int):
    return ThreadPoolExecutor(max_workers=1)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, str]:
    """make_folder's calls (three days) scored before the last criterion was added, then a call of
    a later day scored with it: only that day's calls file has its verdict column."""
    base = tmp_path_factory.mktemp("reading")
    make_folder(base / "rec")
    config = batch_config()
    earlier = dataclasses.replace(config, score=dataclasses.replace(config.score, criteria=config.score.criteria[:-1]))
    run_batch(base / "rec", base / "wh", config=earlier, executor_factory=one_thread)
    write_call(base / "rec/sales/20261125-100000_ag3_5550003.wav", seconds=20, offset_s=5)
    run_batch(base / "rec", base / "wh", config=config, executor_factory=one_thread)
    return base, f"verdict_{config.score.criteria[-1].id}"


@pytest.fixture(params=["day", "call_date"])
def warehouse(request, written, tmp_path) -> tuple[Path, str]:
    """The warehouse in the layout written now (`day=`) and in the one written before."""
    base, added = written
    if request.param == "day":
        return base / "wh", added
    return older_layout(base / "wh", tmp_path / "wh"), added


def older_layout(source: Path, target: Path) -> Path:
    """A copy of a warehouse with its day folders named as speechqa named them before."""
    shutil.copytree(source, target, symlinks=True)
    snapshot = Warehouse(target).snapshot_dir()
    for folder in sorted(snapshot.glob("*/day=*")):
        folder.rename(folder.with_name(folder.name.replace("day=", "call_date=", 1)))
    return target


# ---- the README's code -------------------------------------------------------------------

def readme_blocks(language: str) -> list[str]:
    """The code blocks of the README's "Reading it" section, in order."""
    text = README.read_text(encoding="utf-8")
    start = text.index("### Reading it\n")
    section = text[start: text.index("\n### ", start + 1)]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def readme_block(language: str, needle: str) -> str:
    [block] = [b for b in readme_blocks(language) if needle in b]
    return block


def run_python(blocks: list[str], table: Path, namespace: dict | None = None) -> dict:
    namespace = {} if namespace is None else namespace
    for block in blocks:
        exec(compile(block.replace(EXAMPLE, str(table)), "README.md", "exec"), namespace)
    return namespace


# ---- what every reader must see -------------------------------------------------------------

@dataclass
class Seen:
    """One reader's result: its column names, and per row the key columns, the `day` of the
    folder name when the reader adds it, and the column only the later day has (calls)."""

    reader: str
    columns: list[str]
    rows: list[dict]


def key_columns(columns: list[str], added: str) -> list[str]:
    return [c for c in ("call_id", "call_date", "day", added) if c in columns]


def check(seen: Seen, wh: Path, table: str, added: str) -> None:
    expected = Warehouse(wh).read(table)   # speechqa's own reader: every file, no folder names
    assert expected.num_rows > 0, table
    where = f"{seen.reader} on {table}/"
    assert len(seen.columns) == len(set(seen.columns)), f"{where}: a column twice: {seen.columns}"
    assert set(seen.columns) - {"day"} == set(expected.column_names), where
    assert len(seen.rows) == expected.num_rows, where
    assert all(type(r["call_date"]) is date for r in seen.rows), f"{where}: call_date not a date"
    want = Counter(zip(expected.column("call_id").to_pylist(), expected.column("call_date").to_pylist()))
    assert Counter((r["call_id"], r["call_date"]) for r in seen.rows) == want, where
    if "day" in seen.columns:   # the folder's copy of call_date
        assert all(str(r["day"]) == r["call_date"].isoformat() for r in seen.rows), where
    if table == "calls":
        later = {r["call_id"] for r in expected.to_pylist() if r["call_date"] == LATER_DAY}
        assert later and {r["call_id"] for r in seen.rows if not null(r[added])} == later, where


def null(value) -> bool:
    return value is None or value != value   # pandas reads a null string as NaN


# ---- the readers ------------------------------------------------------------------------------

def test_duckdb_views_as_printed(warehouse):
    duckdb = pytest.importorskip("duckdb")
    wh, added = warehouse
    sql = readme_block("sql", "CREATE VIEW calls")
    db = duckdb.connect()
    db.execute(sql.replace("/srv/qa-warehouse", str(wh)))
    n_calls = Warehouse(wh).read("calls").num_rows
    assert db.sql("SELECT sum(calls) FROM agent_daily").fetchall()[0][0] == n_calls
    view = sql[sql.index("CREATE VIEW calls"): sql.index(";") + 1]   # the calls view, for each table
    for table in TABLES:
        db = duckdb.connect()
        db.execute(view.replace(EXAMPLE, str(wh / "current" / table)))
        types = dict(db.sql("SELECT column_name, column_type FROM (DESCRIBE calls)").fetchall())
        assert types["call_date"] == "DATE" and types.get("day", "DATE") == "DATE"
        wanted = key_columns(list(types), added)
        rows = [dict(zip(wanted, r)) for r in db.sql(f"SELECT {', '.join(wanted)} FROM calls").fetchall()]
        check(Seen("DuckDB", list(types), rows), wh, table, added)


def test_pandas_pyarrow_and_polars_as_printed(warehouse):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    wh, added = warehouse
    common = readme_block("python", "def columns")
    for table in TABLES:
        folder = wh / "current" / table
        df = run_python([common, readme_block("python", "pd.read_parquet")], folder)["calls"]
        assert isinstance(df, pd.DataFrame)
        check(Seen("pandas", list(df.columns), df[key_columns(list(df.columns), added)].to_dict("records")), wh, table, added)
        arrow = run_python([common, readme_block("python", "ds.dataset")], folder)["calls"]
        assert arrow.schema.field("call_date").type == pa.date32()
        check(Seen("pyarrow", arrow.column_names, arrow.select(key_columns(arrow.column_names, added)).to_pylist()), wh, table, added)
        frame = run_python([common, readme_block("python", "pl.scan_parquet")], folder)["calls"]
        assert frame.schema["call_date"] == pl.Date and frame.schema.get("day", pl.Date) == pl.Date
        check(Seen("Polars", frame.columns, frame.select(key_columns(frame.columns, added)).to_dicts()), wh, table, added)


def test_what_a_new_user_types_first_reads_the_day_folders(written):
    """The calls that failed on `call_date=` folders (ArrowTypeError: Unable to merge). They read
    the first file's columns only (the README says so), so the columns are not compared here."""
    pd = pytest.importorskip("pandas")
    import pyarrow.dataset as ds

    base, added = written
    for table in TABLES:
        folder = base / "wh" / "current" / table
        df = pd.read_parquet(folder)
        arrow = ds.dataset(folder, partitioning="hive").to_table()
        for reader, columns, rows in (("pandas", list(df.columns), df.to_dict("records")),
                                      ("pyarrow", arrow.column_names, arrow.to_pylist())):
            assert columns.count("call_date") == 1 and "day" in columns, reader
            assert len(rows) == Warehouse(base / "wh").read(table).num_rows, (reader, table)
            assert all(type(r["call_date"]) is date and r["day"] == r["call_date"].isoformat() for r in rows), reader


@pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")   # no pandas here
def test_spark_with_merge_schema_as_printed(written, tmp_path, monkeypatch):
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[test]')")
    java = java_version()
    if java is None:
        pytest.skip("no Java runtime for Spark: install a JRE (apt-get install openjdk-17-jre-headless; .ci/run does)")
    import pyspark
    from pyspark.sql import SparkSession

    if int(pyspark.__version__.split(".")[0]) >= 4 and java < 17:
        pytest.skip(f"pyspark {pyspark.__version__} needs Java 17 or later; this one is Java {java}")
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    base, added = written
    layouts = {"day": base / "wh", "call_date": older_layout(base / "wh", tmp_path / "older")}
    # One session for every table and both layouts: the README's getOrCreate() returns it.
    spark = (SparkSession.builder.master("local[1]").appName("speechqa-readme")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1")
             .config("spark.driver.host", "127.0.0.1").config("spark.sql.warehouse.dir", str(tmp_path / "spark"))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        block = readme_block("python", "spark.read")
        for layout, wh in layouts.items():
            for table in TABLES:
                df = run_python([block], wh / "current" / table)["calls"]
                types = dict(df.dtypes)
                assert types["call_date"] == "date" and types.get("day", "date") == "date", layout
                rows = [r.asDict() for r in df.select(*key_columns(df.columns, added)).collect()]
                check(Seen(f"Spark ({layout}=)", df.columns, rows), wh, table, added)
    finally:
        spark.stop()


def java_version() -> int | None:
    """The major version of the `java` on PATH (or under JAVA_HOME), None without one."""
    home = os.environ.get("JAVA_HOME")
    java = shutil.which("java") or (home and shutil.which("java", path=str(Path(home) / "bin")))
    if not java:
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if found is None:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major   # "1.8.0" is Java 8


# ---- the older layout moves over in a commit ---------------------------------------------------

def test_an_older_warehouse_moves_to_day_folders_in_its_next_commit(written, tmp_path):
    base, _ = written
    wh = older_layout(base / "wh", tmp_path / "wh")
    before = {t: sorted(Warehouse(wh).read(t).to_pylist(), key=repr) for t in TABLES}
    older = Warehouse(wh).snapshot_dir()
    inodes = {p.relative_to(older).as_posix().replace("call_date=", "day="): os.stat(p).st_ino
              for p in older.glob("*/call_date=*/*.parquet")}
    assert inodes

    def killed():
        raise KeyboardInterrupt   # a run killed with the new snapshot written, not yet shown

    with pytest.raises(KeyboardInterrupt):
        Warehouse(wh).commit(Changes(), snapshot_id="killed", before_swap=killed)
    assert Warehouse(wh).snapshot_dir() == older and not list(older.glob("*/day=*"))
    Warehouse(wh).clean_unfinished()

    summary = run_batch(base / "rec", wh, config=batch_config(), executor_factory=one_thread)
    assert summary.scored == 0   # nothing new: only the commit of its runs row
    now = Warehouse(wh).snapshot_dir()
    assert now != older and not list(now.glob("*/call_date=*"))
    moved = {p.relative_to(now).as_posix(): os.stat(p).st_ino for p in now.glob("*/day=*/*.parquet")}
    assert moved == inodes   # the same files, hard-linked under the new names
    assert {t: sorted(Warehouse(wh).read(t).to_pylist(), key=repr) for t in TABLES} == before
    assert list(older.glob("*/call_date=*")), "the snapshot before stays as it was, for readers still on it"


def test_rescore_of_an_older_warehouse_in_parts_misses_no_day(written, tmp_path):
    """The first of its commits moves every day; the days it reads after that are found under
    their new names."""
    base, _ = written
    wh = older_layout(base / "wh", tmp_path / "wh")
    calls = Warehouse(wh).read("calls").num_rows
    new = batch_config("[score.timing]\ndead_air_s = 0.3\n")
    result = rescore_warehouse(wh, config=new, max_pending_rows=1)   # a commit per day
    assert result.calls == calls
    assert {c["score_hash"] for c in Warehouse(wh).read("calls").to_pylist()} == {new.score_hash}
    snapshot = Warehouse(wh).snapshot_dir()
    assert not list(snapshot.glob("*/call_date=*")) and Warehouse(wh).days("calls") == sorted(
        f"day={d}" for d in {c["call_date"] for c in Warehouse(wh).read("calls").to_pylist()})
