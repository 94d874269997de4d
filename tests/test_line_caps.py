"""The host reads the engine's stdout and stderr with a cap on each line, so nothing can grow this
process without bound."""

from __future__ import annotations

import io

from fast_rlm.host.engine_process import _OVERSIZED_LINE, _capped_lines


def test_lines_within_the_cap_come_through_whole():
    stream = io.BytesIO(b"first\n" + b"x" * 100 + b"\nlast")
    assert list(_capped_lines(stream, 100)) == [b"first\n", b"x" * 100 + b"\n", b"last"]


def test_a_line_over_the_cap_is_skipped_to_its_end_and_reading_goes_on():
    stream = io.BytesIO(b"before\n" + b"y" * 10_000 + b"\nafter\n")
    assert list(_capped_lines(stream, 64)) == [b"before\n", _OVERSIZED_LINE, b"after\n"]


def test_an_endless_line_is_never_held_whole():
    class EndlessLine:
        """A stream of one 5 MB line: it records the most bytes it was asked for at once."""

        def __init__(self) -> None:
            self.remaining = 5_000_000
            self.largest_request = 0

        def readline(self, limit: int) -> bytes:
            self.largest_request = max(self.largest_request, limit)
            size = min(limit, self.remaining)
            self.remaining -= size
            return b"z" * size

    stream = EndlessLine()
    assert list(_capped_lines(stream, 1024)) == [_OVERSIZED_LINE]  # type: ignore[arg-type]
    assert stream.remaining == 0 and stream.largest_request <= 1025
