import pytest

from tradeanomaly.config import CHECK_NAMES, load_config
from tradeanomaly.errors import ConfigError


def test_precedence_defaults_file_env_flags(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed: 3\nperiod: '2020-01'\nout: fromfile\nchecks:\n  benford:\n    enabled: false\n")
    c = load_config(cfg, environ={})
    assert (c.seed, c.period, c.out) == (3, "2020-01", "fromfile")
    assert c.enabled_checks() == [n for n in CHECK_NAMES if n != "benford"]
    c = load_config(cfg, environ={"TRADEANOMALY_SEED": "5", "TRADEANOMALY_OUT": "fromenv"})
    assert (c.seed, c.out) == (5, "fromenv")
    c = load_config(cfg, environ={"TRADEANOMALY_SEED": "5"}, overrides={"seed": 7, "out": None})
    assert (c.seed, c.out) == (7, "fromfile")


def test_errors_name_the_key(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("seed: many\n")
    with pytest.raises(ConfigError, match="`seed`"):
        load_config(cfg, environ={})
    cfg.write_text("checks:\n  magic: {}\n")
    with pytest.raises(ConfigError, match="unknown check"):
        load_config(cfg, environ={})
    cfg.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(cfg, environ={})
    with pytest.raises(ConfigError, match="TRADEANOMALY_SEED"):
        load_config(None, environ={"TRADEANOMALY_SEED": "x"})


def test_digest_changes_with_settings():
    assert load_config(environ={}).digest() == load_config(environ={}).digest()
    assert load_config(environ={}).digest() != load_config(environ={}, overrides={"seed": 1}).digest()


def test_input_paths_relative_to_config(tmp_path):
    (tmp_path / "data.csv").write_text("x\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("input:\n  source: canonical\n  files: [data.csv]\n")
    c = load_config(cfg, environ={})
    assert c.input.files == [str((tmp_path / "data.csv").resolve())]
