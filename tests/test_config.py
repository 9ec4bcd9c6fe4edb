"""Run configuration: typed, validated, unknown keys rejected."""

import pytest

from text2reward.config import RunConfig, load_config_file
from text2reward.errors import ConfigError


def test_unknown_keys_are_rejected_with_the_known_ones(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("env: CartPole-v1\nsampels: 3\n")
    with pytest.raises(ConfigError, match="unknown config key.*sampels.*known: .*samples"):
        load_config_file(path)


def test_malformed_file_is_a_config_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("env: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(path)


@pytest.mark.parametrize("field, value", [("samples", 0), ("rounds", -1), ("workers", 0),
                                          ("timesteps", 0), ("repairs", -1)])
def test_impossible_values_are_rejected(field, value):
    with pytest.raises(ConfigError, match=field):
        RunConfig(env="CartPole-v1", task="balance", **{field: value}).validate()
