"""The configuration: shipped default, round trip, hashes, and clear errors."""

import dataclasses

import pytest

from speechqa.config import Config, MeasureConfig, ScoreConfig, default_config, dump_config, load_config, parse_config
from speechqa.errors import SpeechQAError
from speechqa.metrics import BY_NAME


def test_default_measure_part_equals_code_defaults():
    # The TOML documents the defaults; the dataclasses hold the same values.
    assert default_config().measure == MeasureConfig()
    assert default_config().score.timing == ScoreConfig().timing


def test_round_trip_is_identical(tmp_path):
    config = default_config()
    path = tmp_path / "c.toml"
    path.write_text(dump_config(config))
    again = load_config(path)
    assert again == config
    assert dump_config(again) == dump_config(config)
    assert (again.measure_hash, again.score_hash) == (config.measure_hash, config.score_hash)


def test_hashes_follow_their_own_part():
    config = default_config()
    rescored = dataclasses.replace(
        config, score=dataclasses.replace(config.score, timing=dataclasses.replace(config.score.timing, dead_air_s=5.0))
    )
    assert rescored.measure_hash == config.measure_hash and rescored.score_hash != config.score_hash
    remeasured = dataclasses.replace(config, measure=dataclasses.replace(config.measure, bridge_gap_s=0.3))
    assert remeasured.measure_hash != config.measure_hash and remeasured.score_hash == config.score_hash
    # Turns are measured (each turn's level and pitch need the audio): their definition is [measure].
    turns = parse_config("[measure.turns]\nfloor_take_s = 1.5\n", source="t")
    assert turns.measure_hash != config.measure_hash and turns.score_hash == config.score_hash
    stricter = parse_config("[score]\nmin_decided_weight = 0.7\n", source="t")
    assert stricter.measure_hash == config.measure_hash and stricter.score_hash != config.score_hash


def test_every_default_criterion_names_a_known_metric():
    for criterion in default_config().score.criteria:
        assert criterion.metric in BY_NAME, criterion.id


def test_partial_file_takes_defaults_for_the_rest():
    config = parse_config('[measure]\nagent = "left"\n[score.timing]\ndead_air_s = 5\n', source="t")
    assert config.measure.agent == "left" and config.score.timing.dead_air_s == 5.0
    assert config.measure.vad == MeasureConfig().vad


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[measure]\nagnet = 'left'\n", "agnet"),
        ("[measure]\nagent = 'middle'\n", "middle"),
        ("[measure]\nmax_duration_s = 'long'\n", "max_duration_s"),
        ("[score.timing]\ndead_air_s = -1\n", "dead_air_s"),
        ("[score]\nmin_decided_weight = 50\n", "min_decided_weight = 50.0; use a share from 0"),
        ("[[score.criteria]]\nid='x'\nmetric='agent_talk_s'\ndirection='up'\nthreshold=1\n", "direction"),
        ("[measure\n", "TOML"),
        ("[score.timing]\nfloor_take_s = 1.5\n", r"score.timing.floor_take_s has moved to \[measure.turns\] floor_take_s"),
        ("[[score.criteria]]\nid='x'\nmetric='silence_max_ms'\ndirection='max'\nthreshold=1\n",
         "criterion 'x': metric 'silence_max_ms' is not measured by speechqa; did you mean 'silence_max_s'"),
    ],
)
def test_bad_configuration_says_what_is_wrong(text, fragment):
    with pytest.raises(SpeechQAError, match=fragment) as info:
        parse_config(text, source="my.toml")
    assert info.value.error_type == "bad_config" and "my.toml" in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(SpeechQAError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_config_is_a_plain_value():
    assert isinstance(default_config(), Config)


def test_a_silence_threshold_under_dead_air_is_warned_about(caplog):
    text = "[[score.criteria]]\nid='quiet'\nmetric='silence_max_s'\ndirection='max'\nthreshold=2\n"
    with caplog.at_level("WARNING", logger="speechqa"):
        parse_config(text, source="my.toml")
    [record] = caplog.records
    assert "my.toml: criterion 'quiet': silence_max_s <= 2 s is below [score.timing] dead_air_s = 3 s" in record.message
    caplog.clear()
    with caplog.at_level("WARNING", logger="speechqa"):
        parse_config(text + "[score.timing]\ndead_air_s = 2.0\n", source="my.toml")
        default_config()
    assert not caplog.records


def test_a_release_that_measures_differently_changes_the_measure_hash(monkeypatch):
    """Stored calls are measured again when speechqa's own measuring changes, not only [measure]."""
    import speechqa.config as config_module

    before = config_module.default_config().measure_hash
    monkeypatch.setattr(config_module, "MEASURE_REVISION", config_module.MEASURE_REVISION + 1)
    after = config_module.default_config()
    assert after.measure_hash != before and after.score_hash == config_module.default_config().score_hash
