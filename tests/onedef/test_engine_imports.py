"""The agent loops do not import the run that starts them (engine/agent.ts and engine/planner.ts see
the run through the AgentRun interface agent.ts declares), so run.ts sits on no import cycle."""

from tests.onedef.engine_source import engine_modules, reachable


def test_run_ts_is_on_no_import_cycle():
    graph = engine_modules()
    assert "run.ts" in graph and "agent.ts" in graph["run.ts"]
    assert "run.ts" not in reachable(graph, "run.ts")
    for loop in ("agent.ts", "planner.ts"):
        assert "run.ts" not in reachable(graph, loop), f"{loop} reaches run.ts"
