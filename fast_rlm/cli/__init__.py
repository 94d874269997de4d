"""The `fast-rlm` command, its demo and its interactive session."""
