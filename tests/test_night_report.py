"""`speechqa report WAREHOUSE --html night.html`: the figures on the page equal those DuckDB
counts from the same tables; one self-contained file; worst calls linked or given a command."""

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from batch_helpers import BAD, TEST_CONFIG, batch_config, make_folder
from report_helpers import replicate_calls
from speechqa.batch import run_batch
from speechqa.config import load_config
from speechqa.night_page import night_html
from speechqa.night_report import night_data
from test_html_report import EXTERNAL, _chromium, needs_browser

duckdb = pytest.importorskip("duckdb")
ROOT = Path(__file__).resolve().parents[1]
CONFIG = load_config(None)
LAST_DAY = date(2026, 11, 23)
SINCE, UNTIL = date(2026, 11, 10), date(2026, 11, 20)
# The batch's configuration past TEST_CONFIG: every call gets a total, and the sales queue's calls
# are judged under their own [measure] and [score] (its line puts the agent on the right channel;
# a shorter dead air counts), which changes one sales call's verdicts and total.
SCORED = "[score]\nmin_decided_weight = 0.0\n"
SALES = ('[batch.overrides.sales]\nqueue = "sales"\n[batch.overrides.sales.measure]\nagent = "right"\n'
         "[batch.overrides.sales.score.timing]\ndead_air_s = 2.0\n")


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    """make_folder's calls scored (every call gets a total; sales under its override), and 3,000
    calls made from them over 40 days, 12 agents and four queues."""
    base = tmp_path_factory.mktemp("night")
    make_folder(base / "rec")
    run_batch(base / "rec", base / "wh", config=batch_config(SCORED + SALES),
              executor_factory=lambda threads: ThreadPoolExecutor(1))
    replicate_calls(base / "wh", base / "syn", copies=3000, days=40, agents=12, last_day=LAST_DAY)
    (base / "batch.toml").write_text(TEST_CONFIG + SCORED + SALES)   # the batch's configuration, for --config
    return base


@pytest.fixture(scope="module")
def scorecards(warehouses, tmp_path_factory):
    """`report --scorecards` on the batch warehouse with the batch's configuration: (the run, the
    folder holding night.html and the pages)."""
    out = tmp_path_factory.mktemp("scorecards") / "night.html"
    run = _speechqa("report", warehouses / "wh", "--html", out, "--since", "2026-11-01", "--scorecards", "--no-asr",
                    "--config", warehouses / "batch.toml")
    return run, out.parent


class Page(HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.rows: dict[str, list[dict]] = {}
        self._data, self.data_text = False, ""
        self.feed(text)
        self.data = json.loads(self.data_text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._data = attrs.get("id") == "night-data"
        if tag in ("tr", "g", "svg") and attrs.get("class"):
            self.rows.setdefault(attrs["class"].split()[0], []).append(attrs)

    def handle_endtag(self, tag):
        self._data = False

    def handle_data(self, data):
        if self._data:
            self.data_text += data


def _sql(warehouse: Path, query: str) -> list[tuple]:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW calls AS SELECT * FROM read_parquet('{warehouse}/current/calls/*/*.parquet', "
                "hive_partitioning = true, union_by_name = true)")
    return con.execute(query).fetchall()


def test_the_figures_equal_duckdb_counts(warehouses):
    wh = warehouses / "syn"
    page = Page(night_html(night_data(wh, config=CONFIG, since=SINCE, until=UNTIL)))
    data = page.data
    period = f"call_date BETWEEN DATE '{SINCE}' AND DATE '{UNTIL}'"
    per_day = _sql(wh, f"SELECT call_date, count(*), count(score_total), avg(score_total) FROM calls WHERE {period} "
                       "GROUP BY 1 ORDER BY 1")
    assert len(data["days"]) == (UNTIL - SINCE).days + 1
    got = {d["date"]: (d["calls"], d["scored"], d["score_mean"]) for d in data["days"] if d["calls"]}
    assert got == {d.isoformat(): (n, s, pytest.approx(m, abs=0.01)) for d, n, s, m in per_day}
    drawn = {g["data-date"]: (int(g["data-calls"]), int(g["data-scored"])) for g in page.rows["day"]}
    assert {k: v for k, v in drawn.items() if v[0]} == {d.isoformat(): (n, s) for d, n, s, _ in per_day}
    (calls, scored, mean), = _sql(wh, f"SELECT count(*), count(score_total), avg(score_total) FROM calls WHERE {period}")
    assert (data["calls"], data["scored"], data["score_mean"]) == (calls, scored, pytest.approx(mean, abs=0.01))

    criteria = [c.id for c in CONFIG.score.criteria]
    shown = {r["data-criterion"]: (int(r["data-pass"]), int(r["data-fail"]), int(r["data-abstain"])) for r in page.rows["criterion"]}
    assert set(shown) == set(criteria)
    for c in criteria:
        counted, = _sql(wh, f"SELECT count(*) FILTER (WHERE verdict_{c} = 'pass'), count(*) FILTER (WHERE verdict_{c} = 'fail'), "
                            f"count(*) FILTER (WHERE verdict_{c} = 'abstain') FROM calls WHERE {period} AND score_total IS NOT NULL")
        assert shown[c] == counted, c
    assert any(f for _, f, _ in shown.values())

    agents = _sql(wh, f"SELECT agent_id, count(*), avg(score_total) FROM calls WHERE {period} GROUP BY 1")
    before = dict(_sql(wh, f"SELECT agent_id, avg(score_total) FROM calls WHERE call_date >= DATE '{SINCE - timedelta(days=28)}' "
                           f"AND call_date < DATE '{SINCE}' GROUP BY 1"))
    by_agent = {a["agent_id"]: a for a in data["agents"]}
    assert {r["data-agent"]: int(r["data-calls"]) for r in page.rows["agent"]} == {a: n for a, n, _ in agents}
    for agent, n, score in agents:
        assert by_agent[agent]["score_mean"] == pytest.approx(score, abs=0.01)
        assert by_agent[agent]["vs_own"] == pytest.approx(round(score, 2) - round(before[agent], 2), abs=0.02)
        assert by_agent[agent]["vs_team"] == pytest.approx(score - mean, abs=0.02)

    worst = [r[0] for r in _sql(wh, f"SELECT call_id FROM calls WHERE {period} AND score_total IS NOT NULL "
                                    "ORDER BY score_total, call_id LIMIT 20")]
    assert [r["data-call"] for r in page.rows["worst"]] == worst
    for d in data["distributions"]:
        (n,), = _sql(wh, f"SELECT count({d['metric']}) FROM calls WHERE {period}")
        assert d["n"] == sum(d["counts"]) == n, d["metric"]
    assert {h["data-metric"] for h in page.rows["chart"] if "data-metric" in h} >= {"agent_talk_share", "silence_max_s"}


def test_the_queue_figures_equal_duckdb_counts(warehouses):
    wh = warehouses / "syn"
    page = Page(night_html(night_data(wh, config=CONFIG, since=SINCE, until=UNTIL)))
    criteria = [c.id for c in CONFIG.score.criteria]
    period = f"call_date BETWEEN DATE '{SINCE}' AND DATE '{UNTIL}'"
    any_fail = " OR ".join(f"verdict_{c} = 'fail'" for c in criteria)
    counted = _sql(wh, f"SELECT coalesce(queue, '(none)'), count(*), count(score_total), avg(score_total), "
                       f"count(*) FILTER (WHERE score_total IS NOT NULL AND ({any_fail})) FROM calls WHERE {period} GROUP BY 1")
    assert len(counted) == 4   # sales, support, vip and calls with no queue
    drawn = {r["data-queue"]: (int(r["data-calls"]), int(r["data-scored"]), int(r["data-failed"])) for r in page.rows["queue"]}
    assert drawn == {q: (n, s, f) for q, n, s, _, f in counted}
    by_queue = {q["queue"]: q for q in page.data["queues"]}
    fails = _sql(wh, " UNION ALL ".join(   # per queue and criterion: failed, decided (pass or fail)
        f"SELECT coalesce(queue, '(none)'), '{c}', count(*) FILTER (WHERE verdict_{c} = 'fail'), "
        f"count(*) FILTER (WHERE verdict_{c} IN ('pass', 'fail')) FROM calls WHERE {period} AND score_total IS NOT NULL "
        "GROUP BY 1" for c in criteria))
    for queue, _, _, mean, _ in counted:
        assert by_queue[queue]["score_mean"] == pytest.approx(mean, abs=0.01), queue
        shares = {c: f / d for q, c, f, d in fails if q == queue and d}
        shown = by_queue[queue]["failed_most"]
        assert len(shown) == 3 and all(f["fail_share"] == pytest.approx(shares[f["id"]], abs=1e-4) for f in shown), queue
        assert sorted((f["fail_share"] for f in shown), reverse=True) == pytest.approx(sorted(shares.values(), reverse=True)[:3], abs=1e-4)
    judged = _sql(wh, f"SELECT DISTINCT queue, config_override FROM calls WHERE {period} AND config_override IS NOT NULL")
    assert {q["queue"]: q["overrides"] for q in page.data["queues"] if q["overrides"]} == {q: [o] for q, o in judged} == {"vip": ["vip"]}
    assert "judged under [batch.overrides.vip]" in night_html(page.data)


def test_the_page_is_one_file_with_no_external_url(warehouses):
    text = night_html(night_data(warehouses / "syn", config=CONFIG))
    assert not EXTERNAL.findall(text) and "http://" not in text and "https://" not in text
    assert len(text) < 400_000   # aggregated: no row per call


def test_a_batch_warehouse_and_its_worst_calls(warehouses, scorecards, tmp_path):
    """The worst calls' pages: linked when beside the report, else the command that writes them;
    --scorecards scores each again from the recordings folder the batch ran on, finding it by
    its path as stored (the customer id in the name hashed), two legs included."""
    wh = warehouses / "wh"
    out = tmp_path / "night.html"
    run = _speechqa("report", wh, "--html", out, "--since", "2026-11-01")
    assert run.returncode == 0, run.stderr
    page = Page(out.read_text())
    (calls,), = _sql(wh, "SELECT count(*) FROM calls")
    assert page.data["calls"] == calls == 4 and page.data["errors"]["files"] == BAD
    assert page.data["recordings_dir"] == str(warehouses / "rec")
    assert "--since 2026-11-01 --scorecards</code>" in out.read_text()
    assert not any(w["scorecard"] for w in page.data["worst"])

    run, folder = scorecards   # the batch's [batch.sources]: paths are found as it stored them
    assert run.returncode == 0, run.stderr
    text = (folder / "night.html").read_text()
    worst = Page(text).data["worst"]
    assert len(worst) == 4 and any(w["source_caller_path"] for w in worst)
    for w in worst:
        assert w["scorecard"] == f'{w["call_id"]}.html' and f'<a href="{w["scorecard"]}">' in text
        scorecard = (folder / w["scorecard"]).read_text()
        assert scorecard.startswith("<!DOCTYPE html>") and w["source_path"] in scorecard
        assert "555000" not in scorecard   # the customer id in the file name stays hashed
    assert "--scorecards</code>" not in text   # none missing: no command shown


def test_scorecards_judge_each_call_as_the_batch_did(warehouses, scorecards):
    """A worst call's page applies the [batch.overrides] entry the batch applied to its queue:
    its total, verdicts and dead-air threshold are those of its row in the warehouse."""
    from test_html_report import Page as CallPage

    run, folder = scorecards
    assert run.returncode == 0, run.stderr
    criteria = [c.id for c in CONFIG.score.criteria]
    rows = _sql(warehouses / "wh", f"SELECT call_id, queue, config_override, score_total, "
                                   f"{', '.join(f'verdict_{c}' for c in criteria)} FROM calls")
    assert {(q, o) for _, q, o, *_ in rows} == {("sales", "sales"), ("vip", None), (None, None)}
    for call_id, queue, _, total, *verdicts in rows:
        page = CallPage((folder / f"{call_id}.html").read_text())
        assert page.data["score"]["total"] == pytest.approx(total, abs=0.01), queue
        shown = {a["data-criterion"]: a["data-verdict"] for a in page.classed("criterion")}
        assert shown == {c: v for c, v in zip(criteria, verdicts) if v is not None}, queue
        assert page.data["thresholds"]["dead_air_s"] == (2.0 if queue == "sales" else 3.0)


def test_scorecards_refuse_a_configuration_the_batch_did_not_use(warehouses, tmp_path):
    """Without the batch's sales override a sales call's page would contradict its row: not written, and said why."""
    config = tmp_path / "config.toml"
    config.write_text(TEST_CONFIG + SCORED)
    run = _speechqa("report", warehouses / "wh", "--html", tmp_path / "night.html", "--since", "2026-11-01",
                    "--scorecards", "--no-asr", "--config", config)
    assert run.returncode == 1
    refused = [line for line in run.stderr.splitlines() if "judged it under [batch.overrides.sales]" in line]
    assert len(refused) == 2 and all("pass the batch's --config" in line for line in refused), run.stderr
    worst = Page((tmp_path / "night.html").read_text()).data["worst"]
    assert sorted(w["queue"] or "" for w in worst if w["scorecard"]) == ["", "vip"]


def test_scorecards_says_which_calls_it_cannot_find(warehouses, tmp_path):
    run = _speechqa("report", warehouses / "wh", "--html", tmp_path / "night.html", "--since", "2026-11-01",
                    "--scorecards", "--no-asr")   # the shipped [batch.sources]: no file name pattern, ids not hashed
    assert run.returncode == 1 and "not under" in run.stderr and "pass its --config" in run.stderr


def test_bad_arguments_exit_2(tmp_path):
    assert _speechqa("report", tmp_path / "nothing", "--html", tmp_path / "x.html").returncode == 2
    run = _speechqa("report", tmp_path, "--html", tmp_path / "x.html", "--since", "2026-11-20", "--until", "2026-11-01")
    assert run.returncode == 2 and "after" in run.stderr
    assert _speechqa("report", tmp_path, "--html", tmp_path / "x.html", "--since", "yesterday").returncode == 2


def test_an_empty_warehouse_gives_a_page(tmp_path):
    out = tmp_path / "night.html"
    run = _speechqa("report", tmp_path, "--html", out)
    assert run.returncode == 0, run.stderr
    assert Page(out.read_text()).data["calls"] == 0


@needs_browser
def test_a_browser_opens_the_night_page(warehouses, tmp_path):
    path = tmp_path / "night.html"
    path.write_text(night_html(night_data(warehouses / "syn", config=CONFIG)))
    dom, log, shot, fetched = _chromium(path, tmp_path)
    assert len(re.findall(r'class="bin"', dom)) >= 24 and log == "" and fetched == [], log[-2000:]
    assert shot.stat().st_size > 20_000


def _speechqa(*args):
    return subprocess.run([sys.executable, "-m", "speechqa", *map(str, args)], capture_output=True, text=True, cwd=ROOT)
