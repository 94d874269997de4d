"""Config errors blame the place the bad key came from, and say how to fix it (issue 17, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

import fast_rlm
from fast_rlm import RLMConfig
from fast_rlm.cli.main import EXIT_BAD_INPUT, main
from fast_rlm.errors import ConfigError, ConfigTypeError, OutputSchemaError
from fast_rlm.host.resources import packaged_config_file


def test_a_typo_in_the_cli_config_file_names_that_file(isolated_workdir, capsys):
    Path("my_config.yaml").write_text("max_dpeth: 2\n")

    assert main(["hi", "--config", "my_config.yaml"]) == EXIT_BAD_INPUT

    error = capsys.readouterr().err
    assert "Bad configuration in my_config.yaml: unknown config key 'max_dpeth'" in error
    assert "Did you mean 'max_depth'?" in error
    assert str(packaged_config_file()) not in error
    assert "passed to run()" not in error


def test_a_cli_flag_wins_over_the_same_key_in_the_config_file(isolated_workdir):
    Path("my_config.yaml").write_text("max_depth: 1\nmax_global_calls: 5\n")
    config = RLMConfig.from_yaml("my_config.yaml")
    config.max_depth = 3
    config.max_llm_calls = 7

    resolved = fast_rlm.config.resolve_config(config)

    assert (resolved.max_depth, resolved.max_llm_calls) == (3, 7)


def test_a_bad_value_in_the_working_directory_config_names_that_file_only(isolated_workdir):
    Path("rlm_config.yaml").write_text("max_depth: -1\n")

    with pytest.raises(ConfigError) as raised:
        fast_rlm.config.resolve_config({"truncate_len": 100})

    message = str(raised.value)
    assert message.startswith(
        f"Bad configuration in {isolated_workdir / 'rlm_config.yaml'}: 'max_depth' = -1"
    )
    assert "passed to run()" not in message and str(packaged_config_file()) not in message


def test_a_bad_key_in_the_dict_names_the_dict_not_the_files_beneath_it(isolated_workdir):
    Path("rlm_config.yaml").write_text("truncate_len: 100\n")

    with pytest.raises(ConfigError) as raised:
        fast_rlm.config.resolve_config({"max_dpeth": 2})

    message = str(raised.value)
    assert message.startswith("Bad configuration in the config dict passed to run(): unknown config key")
    assert "rlm_config.yaml" not in message


def test_problems_from_two_sources_are_each_named_by_their_source(isolated_workdir):
    Path("rlm_config.yaml").write_text("max_depth: -1\n")

    with pytest.raises(ConfigError) as raised:
        fast_rlm.config.resolve_config({"truncate_len": 0})

    message = str(raised.value)
    assert f"in {isolated_workdir / 'rlm_config.yaml'}: 'max_depth' = -1" in message
    assert "in the config dict passed to run(): 'truncate_len' = 0" in message


def test_a_later_source_that_sets_a_key_takes_the_blame_for_it(isolated_workdir):
    """./rlm_config.yaml sets a good max_depth; the dict sets it again, badly: the dict is named."""
    Path("rlm_config.yaml").write_text("max_depth: 2\n")

    with pytest.raises(
        ConfigError, match=r"^Bad configuration in the config dict passed to run\(\): 'max_depth'"
    ):
        fast_rlm.config.resolve_config({"max_depth": -5})


def test_assigning_a_misspelt_attribute_suggests_the_field():
    config = RLMConfig()

    with pytest.raises(ConfigError, match="unknown config key 'max_dpeth'. Did you mean 'max_depth'?"):
        config.max_dpeth = 2


def test_a_set_as_output_schema_says_what_is_wrong_without_pydantic_internals():
    with pytest.raises(OutputSchemaError) as raised:
        fast_rlm.run("q", config={"api_key": "k"}, output_schema={1, 2})

    message = str(raised.value)
    assert "output_schema={1, 2} is a value (set), not a type" in message
    assert "typing.Literal[1, 2]" in message
    assert "pydantic-core" not in message and "arbitrary_types_allowed" not in message


def test_a_list_of_a_type_as_output_schema_suggests_the_generic():
    with pytest.raises(OutputSchemaError, match=r"write list\[int\]"):
        fast_rlm.run("q", config={"api_key": "k"}, output_schema=[int])


def test_a_class_pydantic_cannot_describe_is_named_without_pydantic_internals():
    class Opaque:
        pass

    with pytest.raises(OutputSchemaError) as raised:
        fast_rlm.run("q", config={"api_key": "k"}, output_schema=Opaque)

    assert "pydantic cannot describe this type" in str(raised.value)
    assert "arbitrary_types_allowed" not in str(raised.value)


@pytest.mark.parametrize("path", ["x.yaml", Path("x.yaml")])
def test_a_path_as_config_says_how_to_load_a_yaml_file(path):
    with pytest.raises(ConfigTypeError, match=r"config=RLMConfig\.from_yaml\('x\.yaml'\)"):
        fast_rlm.run("q", config=path)


def test_from_yaml_loads_the_file_and_its_errors_name_it(isolated_workdir):
    Path("settings.yaml").write_text("max_depth: 4\napi_timeout_ms: 2500\n")
    loaded = RLMConfig.from_yaml("settings.yaml")
    assert (loaded.max_depth, loaded.llm_timeout_s) == (4, 2.5)
    assert loaded.fields_set == {"max_depth", "llm_timeout_s"}

    Path("settings.yaml").write_text("max_depth: many\n")
    with pytest.raises(ConfigError, match=r"^Bad configuration in settings\.yaml: 'max_depth' = 'many'"):
        RLMConfig.from_yaml("settings.yaml")
