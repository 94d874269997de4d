"""Issue 10, attack 3: agent code cannot leave data for a later run.

Before containment, `caches.open(...).put(...)` (the Cache API, which Deno serves without any
permission check) wrote under the cache directory, and a second run read the first run's data back.
Now the storage APIs are gone from REPL processes: the first run's attempts are refused, the second
run finds nothing, and no file in Deno's storage directory holds what the first run tried to leave.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from fast_rlm.host.deno_setup import deno_dir
from tests.security.containment_probes import assert_the_root_kept_working, refused, run_probes

LEFT_BEHIND = "left-by-run-one-" + secrets.token_hex(8)

STORE = f'''
async def put_in_cache():
    cache = await js.caches.open("fast-rlm-probe")
    await cache.put("https://probe.invalid/direct", js.Response.new("{LEFT_BEHIND}"))
    return "stored"

await probe("Cache API", put_in_cache)
await probe("localStorage", lambda: js.localStorage.setItem("fast-rlm-probe", "{LEFT_BEHIND}"))
await probe("sessionStorage", lambda: js.sessionStorage.setItem("fast-rlm-probe", "{LEFT_BEHIND}"))
await probe("indexedDB", lambda: js.indexedDB.open("fast-rlm-probe"))
await probe("Deno.openKv", lambda: js.Deno.openKv())
await probe("Cache API from a module", lambda: js_module(
    "const cache = await caches.open('fast-rlm-probe');"
    "await cache.put('https://probe.invalid/module', new Response('{LEFT_BEHIND}'));"
    "export default 'stored'"))
await probe("localStorage from a module", lambda: js_module(
    "localStorage.setItem('fast-rlm-probe-module', '{LEFT_BEHIND}'); export default 'stored'"))
'''

READ_BACK = """
async def read_cache():
    cache = await js.caches.open("fast-rlm-probe")
    found = []
    for url in ["https://probe.invalid/direct", "https://probe.invalid/module"]:
        response = await cache.match(url)
        found.append(None if response is None else await response.text())
    return found

await probe("Cache API", read_cache)
await probe("localStorage", lambda: js.localStorage.getItem("fast-rlm-probe"))
await probe("Cache API from a module", lambda: js_module(
    "const cache = await caches.open('fast-rlm-probe');"
    "const found = await cache.match('https://probe.invalid/module');"
    "export default found ? await found.text() : 'nothing'"))
await probe("localStorage from a module", lambda: js_module(
    "export default localStorage.getItem('fast-rlm-probe-module')"))
"""


def _files_holding(directory: Path, text: str) -> list[Path]:
    """Where Deno keeps Cache API and localStorage data (location_data): files that hold `text`."""
    return [path for path in directory.rglob("*") if path.is_file() and text.encode() in path.read_bytes()]


def test_storage_apis_are_refused_and_nothing_reaches_a_second_run(scripted_server):
    first = run_probes(scripted_server, STORE)
    second = run_probes(scripted_server, READ_BACK)

    # Refused because the APIs are not there at all, not because storing happened to fail.
    for run in (first, second):
        assert {name: outcome for name, outcome in run.outcomes.items() if not refused(outcome)} == {}
        assert all(outcome.startswith("AttributeError: ") for outcome in run.outcomes.values()), run.outcomes
    assert LEFT_BEHIND not in str(second.outcomes)
    assert _files_holding(deno_dir() / "location_data", LEFT_BEHIND) == []
    assert_the_root_kept_working(first)
    assert_the_root_kept_working(second)
