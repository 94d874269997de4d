"""What a REPL process loads before agent code runs: modules that only some agents need are loaded
when one does, since every module costs each process of every run its import time (http.client and
email close to a second, the session module a fifth)."""

from __future__ import annotations

import fast_rlm
from fast_rlm.scripted.server import repl
from tests.conftest import config_for

LOADED_ON_USE = ("http.client", "email.parser", "pickle", "_rlm_http_clients", "_rlm_session_state")
CHECK = f"import sys\nFINAL([name for name in {LOADED_ON_USE!r} if name in sys.modules])"


def test_a_fresh_repl_has_not_loaded_what_only_some_agents_need(scripted_server):
    server = scripted_server(lambda request: repl(CHECK))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert result["results"] == []


def test_importing_urllib_request_loads_the_relayed_transport_then(scripted_server):
    code = (
        "import sys, urllib.request\n"
        "FINAL(['_rlm_http_clients' in sys.modules, urllib.request._opener is not None])"
    )
    server = scripted_server(lambda request: repl(code))
    result = fast_rlm.run("q", config=config_for(server), verbosity=0)
    assert result["results"] == [True, True]
