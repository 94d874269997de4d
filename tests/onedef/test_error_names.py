"""The names the engine gives its failures are one list (engine/errors.ts, ENGINE_ERROR_NAMES; deno
check refuses an EngineError named outside it), and fast_rlm.errors maps every one of them: a name
the host does not know would end a run as a misleading EngineCrashError."""

from fast_rlm.errors import ENGINE_ERROR_TYPES, EngineCrashError, FastRLMError
from tests.onedef.engine_source import string_list


def test_the_host_maps_exactly_the_engines_error_names():
    names = string_list("errors.ts", "ENGINE_ERROR_NAMES")
    assert len(names) == len(set(names)) > 10
    assert set(names) - set(ENGINE_ERROR_TYPES) == set(), "names the host would turn into EngineCrashError"
    assert set(ENGINE_ERROR_TYPES) - set(names) == set(), "names the engine never sends"
    assert all(issubclass(cls, FastRLMError) for cls in ENGINE_ERROR_TYPES.values())
    # Only a bug of the engine's is a crash; every failure it names is a typed error of its own.
    assert [name for name, cls in ENGINE_ERROR_TYPES.items() if cls is EngineCrashError] == [
        "EngineInternalError"
    ]
