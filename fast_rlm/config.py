"""RLMConfig: the one definition of the configuration fields, and how sources are merged.

Precedence, lowest first: the packaged rlm_config.yaml, ./rlm_config.yaml in the working directory,
then an RLMConfig or dict passed to run() (only the fields it sets). Unknown keys and bad values
raise ConfigError before the engine starts.
"""

from __future__ import annotations

import difflib
import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from fast_rlm.errors import ConfigError, MissingAPIKeyError
from fast_rlm.net_grant import check_net_grant
from fast_rlm.resources import packaged_config_file

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
LOCAL_CONFIG_NAME = "rlm_config.yaml"


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise ConfigError(f"Cannot read the config file {path}: {error}.") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}. Fix the file or remove it.") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping of config keys, not {type(loaded).__name__}.")
    return loaded


_PACKAGED = read_config_file(packaged_config_file())
# Where the values being validated came from, for the error message.
_validation_source: ContextVar[str] = ContextVar("rlm_config_source", default="RLMConfig(...)")


def _packaged(key: str) -> Any:
    return _PACKAGED[key]


class ModelPrice(BaseModel):
    """What a model costs, for providers that report no cost."""

    model_config = ConfigDict(extra="forbid")

    prompt_per_million: float = Field(ge=0)
    completion_per_million: float = Field(ge=0)


class RLMConfig(BaseModel):
    """Run configuration. Every field's default comes from the packaged rlm_config.yaml."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    primary_agent: str = Field(default_factory=lambda: _packaged("primary_agent"), min_length=1)
    sub_agent: str = Field(default_factory=lambda: _packaged("sub_agent"), min_length=1)
    base_url: str | None = Field(default_factory=lambda: _packaged("base_url"))
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    max_depth: int = Field(default_factory=lambda: _packaged("max_depth"), ge=0)
    max_calls_per_subagent: int = Field(default_factory=lambda: _packaged("max_calls_per_subagent"), ge=1)
    truncate_len: int = Field(default_factory=lambda: _packaged("truncate_len"), ge=1)
    max_concurrency: int = Field(default_factory=lambda: _packaged("max_concurrency"), ge=1)
    workers: int = Field(default_factory=lambda: _packaged("workers"), ge=0)
    max_money_spent: float | None = Field(default_factory=lambda: _packaged("max_money_spent"), gt=0)
    max_completion_tokens: int | None = Field(
        default_factory=lambda: _packaged("max_completion_tokens"), gt=0
    )
    max_prompt_tokens: int | None = Field(default_factory=lambda: _packaged("max_prompt_tokens"), gt=0)
    max_llm_calls: int | None = Field(default_factory=lambda: _packaged("max_llm_calls"), gt=0)
    model_prices: dict[str, ModelPrice] = Field(default_factory=lambda: _packaged("model_prices"))
    llm_timeout_s: float = Field(default_factory=lambda: _packaged("llm_timeout_s"), gt=0)
    llm_max_retries: int = Field(default_factory=lambda: _packaged("llm_max_retries"), ge=0)
    step_timeout_s: float = Field(default_factory=lambda: _packaged("step_timeout_s"), gt=0)
    run_timeout_s: float | None = Field(default_factory=lambda: _packaged("run_timeout_s"), gt=0)
    mcp_timeout_s: float = Field(default_factory=lambda: _packaged("mcp_timeout_s"), gt=0)
    repl_memory_mb: int = Field(default_factory=lambda: _packaged("repl_memory_mb"), ge=256)
    max_value_mb: float = Field(default_factory=lambda: _packaged("max_value_mb"), gt=0, le=1024)
    schema_timeout_s: float = Field(default_factory=lambda: _packaged("schema_timeout_s"), gt=0)
    allow_net: list[str] = Field(default_factory=lambda: _packaged("allow_net"))

    @field_validator("allow_net")
    @classmethod
    def _check_net_grant(cls, hosts: list[str]) -> list[str]:
        return check_net_grant(hosts)

    @classmethod
    def default(cls) -> RLMConfig:
        """The packaged defaults merged with ./rlm_config.yaml, if there is one."""
        return resolve_config(None)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise config_error_from(error, _validation_source.get()) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as error:
            raise config_error_from(error, f"RLMConfig.{name}") from None

    def resolved_base_url(self) -> str:
        return self.base_url or os.environ.get("RLM_MODEL_BASE_URL") or DEFAULT_BASE_URL

    def resolved_api_key(self) -> str:
        key = self.api_key.get_secret_value() if self.api_key else os.environ.get("RLM_MODEL_API_KEY")
        if not key:
            raise MissingAPIKeyError(
                "No API key. Set the RLM_MODEL_API_KEY environment variable, or pass "
                "RLMConfig(api_key=...) / config={'api_key': ...} to fast_rlm.run()."
            )
        return key

    def engine_fields(self) -> dict[str, Any]:
        """What the engine receives: every field, the base URL resolved, never the key."""
        fields = self.model_dump()
        fields["base_url"] = self.resolved_base_url()
        return fields


def config_error_from(error: ValidationError, source: str) -> ConfigError:
    known = [name for name in RLMConfig.model_fields]
    problems = []
    for issue in error.errors():
        key = ".".join(str(part) for part in issue["loc"]) or "(config)"
        if issue["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else f" Valid keys: {', '.join(known)}."
            problems.append(f"unknown config key '{key}'.{hint}")
        else:
            problems.append(f"'{key}' = {issue.get('input')!r}: {issue['msg']}")
    return ConfigError(f"Bad configuration in {source}: " + "; ".join(problems))


def resolve_config(config: RLMConfig | dict[str, Any] | None) -> RLMConfig:
    merged: dict[str, Any] = dict(_PACKAGED)
    local = Path.cwd() / LOCAL_CONFIG_NAME
    sources = [str(packaged_config_file())]
    if local.is_file() and local.resolve() != packaged_config_file().resolve():
        merged.update(read_config_file(local))
        sources.append(str(local))
    if isinstance(config, RLMConfig):
        merged.update({name: getattr(config, name) for name in config.model_fields_set})
        sources.append("the RLMConfig passed to run()")
    elif isinstance(config, dict):
        merged.update(config)
        sources.append("the config dict passed to run()")
    elif config is not None:
        raise ConfigError(f"config must be an RLMConfig, a dict or None, not {type(config).__name__}.")
    token = _validation_source.set(" < ".join(sources))
    try:
        return RLMConfig(**merged)
    finally:
        _validation_source.reset(token)
