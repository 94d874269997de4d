"""The host side of a run: setting up Deno and the engine's files, starting the engine, and
answering its calls (host functions, Python models)."""
