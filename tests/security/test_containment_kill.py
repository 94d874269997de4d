"""Issue 10, attack 1: agent code cannot end its REPL process or the engine through JavaScript.

Before containment, `js.eval` and `import()` of a `data:` URL reached Node built-ins, and a nested
worker (a fresh realm) ran `Deno.kill(Deno.pid, "SIGKILL")`: the engine died. Now every route into
JavaScript that could reach Deno is refused, the REPL process hosting the agent is the same one
before and after, and the run ends normally. (An agent can still end its own REPL process, e.g. with
os._exit; what that costs is pinned in tests/test_repl_recovery.py.)
"""

from __future__ import annotations

from tests.repl_processes import repl_processes
from tests.security.containment_probes import assert_the_root_kept_working, refused, run_probes

KILL = "Deno.kill(Deno.pid, 'SIGKILL')"

PROBES = f'''
pids_before = await repl_pids()
await probe("js.Deno.kill", lambda: js.Deno.kill(js.Deno.pid, "SIGKILL"))
await probe("js.eval", lambda: js.eval("{KILL}"))
await probe("js.Function", lambda: js.Function("{KILL}")())
await probe("Function constructor of an allowed global", lambda: js.Object.constructor("{KILL}")())
await probe("Function constructor of a promise method", lambda: js.Promise.resolve.constructor("{KILL}")())
await probe("Function constructor of a runtime callback",
            lambda: llm_query.__closure__[0].cell_contents.request.constructor("{KILL}")())
await probe("import() of a data: URL", lambda: js_module("{KILL}; export default 'ran'"))
await probe("node:process", lambda: js_module(
    "import process from 'node:process'; process.kill(process.pid, 'SIGKILL'); export default 'ran'"))
await probe("nested node:worker_threads worker", lambda: js_module(
    "import {{ Worker }} from 'node:worker_threads';"
    "new Worker(\\"{KILL}\\", {{ eval: true }}); export default 'spawned'"))
await probe("nested Worker", lambda: js.Worker.new("data:text/javascript,{KILL}"))
await probe("js.process", lambda: js.process.kill(js.process.pid, "SIGKILL"))
await probe("pyodide_js", lambda: __import__("pyodide_js")._api)
await probe("pyodide.code.run_js", lambda: __import__("pyodide.code").code.run_js("{KILL}"))
await probe("Function constructor of Pyodide's scheduler",
            lambda: __import__("pyodide.webloop").webloop.scheduleCallback.constructor("{KILL}")())
pids_after = await repl_pids()
print(pids_before == pids_after)
'''


def repl_pids() -> list[int]:
    """The pids of the engine's REPL processes."""
    return sorted(process.pid for process in repl_processes())


NO_CODE_FROM_STRINGS = "JsException: EvalError: Code generation from strings disallowed"
EXPECTED = {
    "js.Deno.kill": "AttributeError: Deno",  # the js module shows allow-listed globals only
    "js.eval": "AttributeError: eval",
    "js.Function": "AttributeError: Function",
    "Function constructor of an allowed global": NO_CODE_FROM_STRINGS,
    "Function constructor of a promise method": NO_CODE_FROM_STRINGS,
    "Function constructor of a runtime callback": NO_CODE_FROM_STRINGS,
    "import() of a data: URL": "AttributeError: eval",
    "node:process": "AttributeError: eval",
    "nested node:worker_threads worker": "AttributeError: eval",
    "nested Worker": "AttributeError: Worker",
    "js.process": "AttributeError: process",
    "pyodide_js": "ModuleNotFoundError: No module named 'pyodide_js'",
    "pyodide.code.run_js": "ImportError: cannot import name 'eval' from 'js'",
    "Function constructor of Pyodide's scheduler": NO_CODE_FROM_STRINGS,
}


def test_every_route_to_deno_kill_is_refused_and_the_run_goes_on(scripted_server):
    run = run_probes(scripted_server, PROBES, host_functions=[repl_pids])

    assert {name: outcome for name, outcome in run.outcomes.items() if not refused(outcome)} == {}
    assert run.outcomes.keys() == EXPECTED.keys()
    for name, expected in EXPECTED.items():
        assert run.outcomes[name].startswith(expected), (name, run.outcomes[name])
    assert run.root_requests[1]["messages"][-1]["content"].strip() == "True"  # the same REPL processes
    assert_the_root_kept_working(run)
    assert "ReplError" not in "\n".join(run.log_lines)
