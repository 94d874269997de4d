"""Reading, rendering and serving run logs: the `fast-rlm-log` command and what it builds on."""
