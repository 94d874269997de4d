"""benchmarks/transport_floor.py: the bare-fetch fan-out the performance report measures the engine
against carries every request through the real Deno and the scripted server."""

from __future__ import annotations

from benchmarks.transport_floor import transport_floor


def test_the_floor_makes_the_root_request_then_every_child_request():
    floor = transport_floor(children=20, latency_ms=50)
    # Two rounds of the model's latency, one after the other: the root's request, then the children's.
    assert floor.requests_s >= 0.1
    assert floor.wall_s > floor.requests_s
