"""Runs from an earlier run's log: replay (run(replay=LOG)), resume() and fork()."""
