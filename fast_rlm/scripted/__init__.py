"""A scripted OpenAI- and Anthropic-compatible model server on 127.0.0.1, for tests, the demo and
benchmarks."""
