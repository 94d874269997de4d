"""Host functions: give agents a database without giving them the network or your files.

    python examples/host_function_sqlite.py --demo

`run_sql` runs here, in your Python process, with your SQLite file; agents call it from the
sandbox as `await run_sql(...)`. Arguments and results cross as JSON, and an exception comes back
to the agent as a HostFunctionError carrying the message.
"""

import sqlite3
import sys
import tempfile
from pathlib import Path

import fast_rlm
from fast_rlm.cli.demo import scripted_model_config
from fast_rlm.scripted.server import call_number, repl

DATABASE = Path(tempfile.mkdtemp()) / "shop.db"


def run_sql(query: str) -> list:
    """Run a read-only SQL query on the shop database; returns the rows as lists."""
    if not query.lstrip().lower().startswith("select"):
        raise PermissionError("only SELECT queries are allowed")
    with sqlite3.connect(DATABASE) as connection:
        return [list(row) for row in connection.execute(query).fetchall()]


def make_database() -> None:
    with sqlite3.connect(DATABASE) as connection:
        connection.execute("CREATE TABLE orders (customer TEXT, amount REAL)")
        connection.executemany(
            "INSERT INTO orders VALUES (?, ?)",
            [("ada", 120.0), ("grace", 80.5), ("ada", 42.0), ("linus", 15.25), ("grace", 19.5)],
        )


def scripted_model(request):
    if call_number(request) == 1:
        return repl("""
try:
    await run_sql("DELETE FROM orders")
except HostFunctionError as error:
    print("refused:", error)
rows = await run_sql("SELECT customer, SUM(amount) FROM orders GROUP BY customer ORDER BY 2 DESC")
print(rows)
""")
    return repl("FINAL({'top_customer': rows[0][0], 'spent': rows[0][1]})")


def main() -> None:
    make_database()
    with scripted_model_config(scripted_model, "--demo" in sys.argv) as model:
        result = fast_rlm.run(
            "Which customer spent the most, and how much?",
            host_functions=[run_sql],
            config=model,
            verbosity=0,
        )
    print(result["results"])


if __name__ == "__main__":
    main()
