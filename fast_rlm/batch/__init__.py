"""run_batch(): many runs, several engines at a time, locally or on Ray."""
