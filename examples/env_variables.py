"""Env variables: values agent code reads from os.environ, for this run only.

    python examples/env_variables.py --demo

They are set in every REPL of the run and nowhere else: not in your process's environment, not in
the log, and not in any prompt (a value an agent prints is shown to the model as [redacted]).
"""

import sys

import fast_rlm
from fast_rlm.cli.demo import scripted_model_config
from fast_rlm.scripted.server import call_number, repl


def scripted_model(request):
    if call_number(request) == 1:
        return repl(
            "import os\nprint('region', os.environ['SHOP_REGION'], 'token', os.environ['SHOP_TOKEN'])"
        )
    return repl(
        "import os\n"
        "FINAL({'region': os.environ['SHOP_REGION'], 'token_length': len(os.environ['SHOP_TOKEN'])})"
    )


def main() -> None:
    with scripted_model_config(scripted_model, "--demo" in sys.argv) as model:
        result = fast_rlm.run(
            "Which region are we in, and is there a token?",
            env_variables={"SHOP_REGION": "eu-north", "SHOP_TOKEN": "tok_live_8f2a91c0"},
            config=model,
            verbosity=0,
        )
    print(result["results"])


if __name__ == "__main__":
    main()
