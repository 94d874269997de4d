"""Config keys of the original fast-rlm (0.5.0) that are spelled differently here.

Each source (a YAML file, a dict, RLMConfig(...) keywords) may use either name; `translate_aliases`
turns the original's into ours before the sources are merged, so a later source overrides an
earlier one whichever name each used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fast_rlm.errors import ConfigError


@dataclass(frozen=True)
class ConfigAlias:
    """An original key (`name`) for one of ours (`target`), with the unit conversion each way."""

    name: str
    target: str
    to_target: Callable[[Any], Any]
    from_target: Callable[[Any], Any]

    def converted(self, value: Any, source: str) -> Any:
        """`value` of the original key as a value of ours; a ConfigError naming `source` if it has none."""
        try:
            return self.to_target(value)
        except ValueError as error:
            raise ConfigError(f"Bad configuration in {source}: '{self.name}' = {value!r}: {error}.") from None


def _same(value: Any) -> Any:
    return value


def _milliseconds_to_seconds(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number of milliseconds (or set llm_timeout_s in seconds)")
    return value / 1000


def _seconds_to_milliseconds(value: float) -> float:
    milliseconds = value * 1000
    return int(milliseconds) if float(milliseconds).is_integer() else milliseconds


CONFIG_ALIASES: dict[str, ConfigAlias] = {
    alias.name: alias
    for alias in (
        ConfigAlias("api_max_retries", "llm_max_retries", _same, _same),
        ConfigAlias("api_timeout_ms", "llm_timeout_s", _milliseconds_to_seconds, _seconds_to_milliseconds),
        ConfigAlias("max_global_calls", "max_llm_calls", _same, _same),
    )
}


def translate_aliases(values: dict[str, Any], source: str) -> dict[str, Any]:
    """`values` with every original key replaced by ours. An original key and ours given together
    must agree, or it is a ConfigError naming both and `source`."""
    translated = {key: value for key, value in values.items() if key not in CONFIG_ALIASES}
    for key, value in values.items():
        alias = CONFIG_ALIASES.get(key)
        if alias is None:
            continue
        converted = alias.converted(value, source)
        if alias.target in values and values[alias.target] != converted:
            raise ConfigError(
                f"Bad configuration in {source}: '{alias.name}' = {value!r} and '{alias.target}' = "
                f"{values[alias.target]!r} disagree; they are the same setting ('{alias.name}' is the "
                f"original fast-rlm's name for '{alias.target}'). Keep only '{alias.target}'."
            )
        translated[alias.target] = converted
    return translated
