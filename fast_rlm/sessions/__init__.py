"""Sessions: queries that share one root REPL, and the directory that keeps them."""
