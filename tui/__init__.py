"""The fast-rlm log viewer (Textual). Open it with `fast-rlm-log FILE --tui`."""

from tui.app import LogViewerApp

__all__ = ["LogViewerApp"]
