"""Puts the relayed HTTP transports (http_clients.py) into urllib.request and httpx when agent code
first imports one of them.

Only this small hook is imported when a REPL process starts: http_clients.py imports http.client and
email, which take close to a second to load in a REPL process, so it is loaded on first use, not by
every process of every run.
"""

import sys
from importlib.abc import Loader, MetaPathFinder

HOOKED_MODULES = ("urllib.request", "httpx")


def _install(module) -> None:
    import _rlm_http_clients

    _rlm_http_clients.INSTALLERS[module.__name__](module)


class _InstallOnImport(MetaPathFinder):
    """Finds the hooked modules with the other finders and installs the transports once the module
    has executed."""

    def find_spec(self, name, path, target=None):
        if name not in HOOKED_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _InstallingLoader(spec.loader)
                return spec
        return None


class _InstallingLoader(Loader):
    def __init__(self, loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        _install(module)


for _name in HOOKED_MODULES:
    if _name in sys.modules:
        _install(sys.modules[_name])
sys.meta_path.insert(0, _InstallOnImport())
