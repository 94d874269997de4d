"""RLMConfig: the one definition of the configuration fields, and how sources are merged.

Precedence, lowest first: the packaged rlm_config.yaml, ./rlm_config.yaml in the working directory,
then an RLMConfig or dict passed to run() (only the fields it sets). Unknown keys and bad values
raise ConfigError before the engine starts, naming the source that set each bad key. Every source
may also use the original fast-rlm's key names (config_aliases.py).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.dataclasses import dataclass

from fast_rlm.errors import ConfigError, ConfigTypeError, MissingAPIKeyError
from fast_rlm.host.resources import packaged_config_file
from fast_rlm.inputs.config_aliases import CONFIG_ALIASES, translate_aliases
from fast_rlm.inputs.net_grant import check_net_grant

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
LOCAL_CONFIG_NAME = "rlm_config.yaml"
# Where the key is looked for when the config has none, first found wins (the original's order).
API_KEY_VARIABLES = ("RLM_MODEL_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY")
ANTHROPIC_KEY_VARIABLE = "ANTHROPIC_API_KEY"
ANTHROPIC_BASE_URL_VARIABLE = "ANTHROPIC_BASE_URL"


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
# Where the values being validated came from, for the error message: the source of the keys
# `origins` (key -> source) does not name.
_validation_source: ContextVar[str] = ContextVar("rlm_config_source", default="RLMConfig(...)")
_validation_origins: ContextVar[Mapping[str, str]] = ContextVar(
    "rlm_config_origins", default=MappingProxyType({})
)


def _packaged(key: str) -> Any:
    return _PACKAGED[key]


@dataclass(config=ConfigDict(extra="forbid"))
class ModelPrice:
    """What a model costs, for providers that report no cost."""

    prompt_per_million: float = Field(ge=0)
    completion_per_million: float = Field(ge=0)
    # Prompt tokens read from / written to the provider's prompt cache; None: prompt_per_million.
    cached_prompt_per_million: float | None = Field(default=None, ge=0)
    cache_write_per_million: float | None = Field(default=None, ge=0)


# Model-name prefixes of the original fast-rlm's other backends, which this one does not have.
_UNSUPPORTED_BACKENDS = {
    "acp:": "Agent Client Protocol agents (acp:...)",
    "cli:": "coding-agent CLIs (cli:...)",
}


@dataclass(config=ConfigDict(extra="forbid", validate_assignment=True))
class _ConfigFields:
    """The fields, their defaults and their checks; RLMConfig below adds how they are set and read.
    Every field's default comes from the packaged rlm_config.yaml, except the original's keys that
    have no effect here (the last group)."""

    primary_agent: str = Field(default_factory=lambda: _packaged("primary_agent"), min_length=1)
    # None: children use primary_agent, as in the original fast-rlm.
    sub_agent: str | None = Field(default_factory=lambda: _packaged("sub_agent"), min_length=1)
    # Depth -> the model of the agents at that depth (1: the root's children, ...); YAML keys may be
    # ints or strings. llm_query(..., model=...) and a named agent's model win over it; sub_agent
    # is for the depths it does not name.
    models_by_depth: dict[int, str] = Field(default_factory=dict)
    base_url: str | None = Field(default_factory=lambda: _packaged("base_url"))
    api_key: SecretStr | None = Field(default=None, repr=False)
    anthropic_base_url: str | None = Field(default_factory=lambda: _packaged("anthropic_base_url"))
    anthropic_api_key: SecretStr | None = Field(default=None, repr=False)
    prompt_caching: bool = Field(default_factory=lambda: _packaged("prompt_caching"))
    max_depth: int = Field(default_factory=lambda: _packaged("max_depth"), ge=0)
    # Planner mode (run(mode="decompose")): the most agents its tree may start; None: no limit.
    max_steps: int | None = Field(default_factory=lambda: _packaged("max_steps"), ge=1)
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
    inherit_tools: bool = Field(default_factory=lambda: _packaged("inherit_tools"))
    inherit_mcp: bool = Field(default_factory=lambda: _packaged("inherit_mcp"))
    enable_tools: bool = Field(default_factory=lambda: _packaged("enable_tools"))
    enable_structured_io: bool = Field(default_factory=lambda: _packaged("enable_structured_io"))
    allow_net: list[str] = Field(default_factory=lambda: _packaged("allow_net"))
    # The response cache's directory: a reply is kept under the hash of its full request and given
    # again for nothing to the same request (engine/models/response_cache.ts). None: no cache.
    cache_dir: str | None = Field(default_factory=lambda: _packaged("cache_dir"), min_length=1)
    # Keys of the original fast-rlm, accepted so its configs load unchanged, with no effect here:
    # there is no compression guard (no confirmation calls are made before a delegation), and ACP
    # and CLI agents are not backends here (a model named acp:... or cli:... is refused).
    enable_compression_guard: bool = False
    compression_min_chars: int = Field(default=5000, ge=0)
    compression_ratio: float = Field(default=0.6, gt=0)
    acp_agents: dict[str, Any] | None = None
    cli_agents: dict[str, Any] | None = None
    cli_minimal: bool = False
    cli_allow_api_key: bool = False

    @field_validator("allow_net")
    @classmethod
    def _check_net_grant(cls, hosts: list[str]) -> list[str]:
        return check_net_grant(hosts)

    @field_validator("primary_agent", "sub_agent")
    @classmethod
    def _served_by_an_openai_compatible_endpoint(cls, model: str | None) -> str | None:
        if model is None:
            return None
        for prefix, backend in _UNSUPPORTED_BACKENDS.items():
            if model.startswith(prefix):
                raise ValueError(
                    f"{backend} are a backend of the original fast-rlm that this one does not have. "
                    "Name a model of an OpenAI-compatible endpoint (base_url / RLM_MODEL_BASE_URL)."
                )
        return model

    @field_validator("models_by_depth")
    @classmethod
    def _depths_of_children(cls, models: dict[int, str]) -> dict[int, str]:
        for depth, model in models.items():
            if depth < 1:
                raise ValueError(
                    f"depth {depth} is not a child's: models_by_depth starts at 1 (the root's children); "
                    "the root's model is primary_agent."
                )
            if not model:
                raise ValueError(f"depth {depth} names no model")
            cls._served_by_an_openai_compatible_endpoint(model)
        return models


# The engine has no use for these: the key travels apart from the config, the rest do nothing here.
_NOT_FOR_THE_ENGINE = (
    "api_key",
    "anthropic_api_key",
    "enable_compression_guard",
    "compression_min_chars",
    "compression_ratio",
    "acp_agents",
    "cli_agents",
    "cli_minimal",
    "cli_allow_api_key",
)


class RLMConfig(_ConfigFields):
    """Run configuration: RLMConfig(max_depth=2, ...), validated on construction and on every
    attribute assignment. A dataclass, so dataclasses.replace and dataclasses.asdict work (asdict
    holds api_key as a SecretStr). The original fast-rlm's key names (config_aliases.py) are
    accepted as keywords and attributes."""

    # A slot, not an instance attribute: validated assignment replaces the instance's __dict__.
    __slots__ = ("_fields_set",)

    def __init__(self, **values: Any) -> None:
        source = _validation_source.get()
        values = translate_aliases(values, source)
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise config_error_from(error, source, _validation_origins.get()) from None
        # The fields given here are the ones that override ./rlm_config.yaml in run().
        object.__setattr__(self, "_fields_set", set(values))

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_fields_set":  # copy and pickle restore the slot through setattr
            object.__setattr__(self, name, value)
            return
        alias = CONFIG_ALIASES.get(name)
        if alias is not None:
            name, value = alias.target, alias.converted(value, f"RLMConfig.{name}")
        try:
            super().__setattr__(name, value)
        except ValidationError as error:
            raise config_error_from(error, f"RLMConfig.{name}") from None
        self._fields_set.add(name)

    def __getattr__(self, name: str) -> Any:
        # Called only for names that are not fields: the original's names read ours.
        alias = CONFIG_ALIASES.get(name)
        if alias is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return alias.from_target(getattr(self, alias.target))

    @property
    def fields_set(self) -> frozenset[str]:
        """The fields given at construction or assigned since (dataclasses.replace gives them all)."""
        return frozenset(self._fields_set)

    @classmethod
    def default(cls) -> RLMConfig:
        """The packaged defaults merged with ./rlm_config.yaml, if there is one."""
        return resolve_config(None)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> RLMConfig:
        """The keys of a YAML file (the original fast-rlm's names too) as an RLMConfig that sets only
        them: in run() they override ./rlm_config.yaml, the rest keeps its defaults. Errors name the file."""
        with _validating(str(path)):
            return cls(**translate_aliases(read_config_file(Path(path)), str(path)))

    def resolved_base_url(self) -> str:
        return self.base_url or os.environ.get("RLM_MODEL_BASE_URL") or DEFAULT_BASE_URL

    def resolved_anthropic_base_url(self) -> str:
        return (
            self.anthropic_base_url
            or os.environ.get(ANTHROPIC_BASE_URL_VARIABLE)
            or DEFAULT_ANTHROPIC_BASE_URL
        )

    def optional_api_key(self) -> str | None:
        """The OpenAI-compatible endpoint's key, if one is set."""
        if self.api_key:
            return self.api_key.get_secret_value()
        return next((os.environ[name] for name in API_KEY_VARIABLES if os.environ.get(name)), None)

    def optional_anthropic_api_key(self) -> str | None:
        if self.anthropic_api_key:
            return self.anthropic_api_key.get_secret_value()
        return os.environ.get(ANTHROPIC_KEY_VARIABLE) or None

    def resolved_anthropic_api_key(self, models: list[str]) -> str:
        """The Anthropic key, which `models` (the run's Anthropic models) need."""
        key = self.optional_anthropic_api_key()
        if not key:
            raise MissingAPIKeyError(
                f"No Anthropic API key for the model(s) {', '.join(models)}. Set the "
                f"{ANTHROPIC_KEY_VARIABLE} environment variable, or pass RLMConfig(anthropic_api_key=...) / "
                "config={'anthropic_api_key': ...} to fast_rlm.run().",
                variable=ANTHROPIC_KEY_VARIABLE,
            )
        return key

    def resolved_api_key(self) -> str:
        key = self.optional_api_key()
        if not key:
            raise MissingAPIKeyError(
                "No API key. Set the RLM_MODEL_API_KEY (or OPENAI_API_KEY, OPENROUTER_API_KEY) environment "
                "variable, "
                "or pass RLMConfig(api_key=...) / config={'api_key': ...} to fast_rlm.run().",
                variable=API_KEY_VARIABLES[0],
            )
        return key

    def engine_fields(self) -> dict[str, Any]:
        """What the engine receives: its fields, the base URL resolved, never the key."""
        fields = {name: value for name, value in asdict(self).items() if name not in _NOT_FOR_THE_ENGINE}
        fields["base_url"] = self.resolved_base_url()
        fields["anthropic_base_url"] = self.resolved_anthropic_base_url()
        fields["sub_agent"] = self.sub_agent or self.primary_agent
        fields["models_by_depth"] = {str(depth): model for depth, model in self.models_by_depth.items()}
        fields["cache_dir"] = None if self.cache_dir is None else str(Path(self.cache_dir).resolve())
        return fields

    def helper_models(self) -> set[str]:
        """The models the config names for the root's helpers (named agents' models aside)."""
        return {self.sub_agent or self.primary_agent, *self.models_by_depth.values()}


def config_error_from(
    error: ValidationError, source: str, origins: Mapping[str, str] | None = None
) -> ConfigError:
    """One message for every problem of `error`, each under the source that set its key: `origins`
    maps a key to its source, `source` stands for keys it does not name."""
    known = [field.name for field in fields(RLMConfig)] + list(CONFIG_ALIASES)
    problems_by_source: dict[str, list[str]] = {}
    for issue in error.errors():
        key = ".".join(str(part) for part in issue["loc"]) or "(config)"
        if issue["type"] in ("extra_forbidden", "unexpected_keyword_argument", "no_such_attribute"):
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else f" Valid keys: {', '.join(known)}."
            problem = f"unknown config key '{key}'.{hint}"
        else:
            problem = f"'{key}' = {issue.get('input')!r}: {issue['msg']}"
        top_key = str(issue["loc"][0]) if issue["loc"] else ""
        problems_by_source.setdefault((origins or {}).get(top_key, source), []).append(problem)
    if len(problems_by_source) == 1:
        [(where, problems)] = problems_by_source.items()
        return ConfigError(f"Bad configuration in {where}: " + "; ".join(problems))
    return ConfigError(
        "Bad configuration: "
        + "; ".join(f"in {where}: " + "; ".join(problems) for where, problems in problems_by_source.items())
    )


@contextmanager
def _validating(source: str, origins: Mapping[str, str] | None = None) -> Iterator[None]:
    """RLMConfig(...) inside names the source of each bad key in its errors: `origins[key]`, else `source`."""
    source_token = _validation_source.set(source)
    origins_token = _validation_origins.set(origins or MappingProxyType({}))
    try:
        yield
    finally:
        _validation_source.reset(source_token)
        _validation_origins.reset(origins_token)


_PASSED_DICT = "the config dict passed to run()"


def resolve_config(config: RLMConfig | dict[str, Any] | None) -> RLMConfig:
    if isinstance(config, (str, os.PathLike)):
        raise ConfigTypeError(
            f"config={config!r} is a path: to use a YAML file of config keys, pass "
            f"config=RLMConfig.from_yaml({str(config)!r}) (./rlm_config.yaml is read without asking)."
        )
    if config is not None and not isinstance(config, (RLMConfig, dict)):
        raise ConfigTypeError(f"config must be an RLMConfig, a dict or None, not {type(config).__name__}.")
    # Each source's keys, lowest precedence first; the last to set a key is the one its errors name.
    layers: list[tuple[str, dict[str, Any]]] = [(str(packaged_config_file()), _PACKAGED)]
    local = Path.cwd() / LOCAL_CONFIG_NAME
    if local.is_file() and local.resolve() != packaged_config_file().resolve():
        layers.append((str(local), translate_aliases(read_config_file(local), str(local))))
    if isinstance(config, RLMConfig):
        # Validated when it was made: no error can name it.
        layers.append(
            ("the RLMConfig passed to run()", {name: getattr(config, name) for name in config.fields_set})
        )
    elif isinstance(config, dict):
        layers.append((_PASSED_DICT, translate_aliases(config, _PASSED_DICT)))
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for source, values in layers:
        merged.update(values)
        origins.update(dict.fromkeys(values, source))
    with _validating(" < ".join(source for source, _ in layers), origins):
        return RLMConfig(**merged)
