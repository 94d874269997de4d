"""Installs an agent's tools and host functions into its namespace (setup keys "tools" and
"host_functions"; see runtime.register_setup_installer)."""

from _rlm_runtime import engine_request, register_setup_installer


class HostFunctionError(Exception):
    """A host function raised; the message is its exception's."""


HostFunctionError.__module__ = "builtins"


def _install_tools(channel, namespace: dict, tools: list) -> None:
    # A tool is the user's function's own source, run in the agent's namespace: it is plain Python
    # inside the sandbox, like the agent's code.
    for tool in tools:
        exec(compile(tool["source"], f"<tool {tool['name']}>", "exec"), namespace)


def _install_host_functions(channel, namespace: dict, functions: list) -> None:
    for spec in functions:
        namespace[spec["name"]] = _host_function_proxy(channel, spec)
    namespace["HostFunctionError"] = HostFunctionError


def _host_function_proxy(channel, spec: dict):
    name = spec["name"]

    async def call_on_host(*args, **kwargs):
        payload = {"name": name, "args": list(args), "kwargs": kwargs}
        return await engine_request(channel, "host_function", payload, HostFunctionError)

    call_on_host.__name__ = call_on_host.__qualname__ = name
    call_on_host.__doc__ = f"{name}{spec['signature']} (runs on the host; await it)\n\n{spec['doc']}"
    return call_on_host


register_setup_installer("tools", _install_tools)
register_setup_installer("host_functions", _install_host_functions)
