"""Structured output: the answer must match a pydantic model.

    python examples/structured_output.py          # with RLM_MODEL_API_KEY set
    python examples/structured_output.py --demo   # against a scripted model, no key

Every FINAL value is checked against the schema; a mismatch goes back to the agent with the path
and the reason, and it tries again. `results` is plain JSON: validate it into the model yourself.
"""

import sys

from pydantic import BaseModel

import fast_rlm
from fast_rlm.cli.demo import scripted_model_config
from fast_rlm.scripted.server import call_number, repl


class LineItem(BaseModel):
    product: str
    quantity: int
    unit_price: float


class Invoice(BaseModel):
    customer: str
    items: list[LineItem]
    total: float


INVOICE_TEXT = """INVOICE 2026-118 for Northwind Traders
3 x Espresso beans 1kg @ 24.50
2 x Milk frother @ 39.90
1 x Descaling kit @ 12.00"""


def scripted_model(request):
    """Plays an agent that first forgets the total, is told so, and fixes it."""
    first_try = """
import re
items = [{"product": p.strip(), "quantity": int(q), "unit_price": float(u)}
         for q, p, u in re.findall(r"(\\d+) x (.+?) @ ([\\d.]+)", context)]
customer = context.splitlines()[0].split(" for ", 1)[1]
FINAL({"customer": customer, "items": items})
"""
    fixed = """
total = round(sum(item["quantity"] * item["unit_price"] for item in items), 2)
FINAL({"customer": customer, "items": items, "total": total})
"""
    return repl(first_try if call_number(request) == 1 else fixed)


def main() -> None:
    with scripted_model_config(scripted_model, "--demo" in sys.argv) as model:
        result = fast_rlm.run(
            INVOICE_TEXT,
            instruction="Extract the invoice.",
            output_schema=Invoice,
            config=model,
            verbosity=0,
        )
    invoice = Invoice.model_validate(result["results"])
    print(f"{invoice.customer}: {len(invoice.items)} items, total {invoice.total:.2f}")


if __name__ == "__main__":
    main()
