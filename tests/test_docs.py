"""The README documents every command, option, metric and configuration key."""

import dataclasses
from pathlib import Path

from speechqa.cli import build_parser
from speechqa.config import BatchOptions, MeasureConfig, ScoreConfig
from speechqa.errors import ERROR_TYPES
from speechqa.metrics import METRIC_NAMES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_shows_both_commands_first():
    first_block = README[: README.index("## ")]
    assert "make run" in first_block and "make test" in first_block


def test_every_metric_is_documented():
    missing = [name for name in METRIC_NAMES if f"`{name}`" not in README]
    assert not missing, f"README lacks metrics: {missing}"


def config_keys(obj, prefix):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from config_keys(value, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}"


def test_every_configuration_key_is_documented():
    all_keys = [
        *config_keys(MeasureConfig(), "measure."), *config_keys(ScoreConfig(), "score."), *config_keys(BatchOptions(), "batch."),
    ]
    assert {"measure.vad.threshold", "score.timing.dead_air_s", "batch.sources.timezone"} <= set(all_keys)
    missing = [k for k in all_keys if k not in README]
    assert not missing, f"README lacks configuration keys: {missing}"


def test_every_command_option_and_error_type_is_documented():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        assert f"speechqa {name}" in README, name
        for action in sub._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert option in README, f"{name} {option}"
    missing = [t for t in ERROR_TYPES if f"`{t}`" not in README]
    assert not missing, f"README lacks error types: {missing}"
