"""Planner mode: the task is split into sub-tasks that run at the same time, then combined.

    python examples/planner.py          # with RLM_MODEL_API_KEY set
    python examples/planner.py --demo   # against a scripted model, no key

With mode="decompose" each task first gets a plan, a JSON reply checked against a schema: "execute"
(a REPL agent does the task) or "recurse" (a list of sub-tasks, each planned the same way, whose
answers a last agent combines). max_depth bounds how deep tasks split; max_steps bounds how many
agents the whole tree may start. A sub-task may name one of `agents=`, and then runs on its model.
The log shows each agent's role (plan, subtask, execute, synthesis) and each plan:
`fast-rlm-log <log_file>` prints the tree.
"""

import json
import sys

import fast_rlm
from fast_rlm.cli.demo import scripted_model_config
from fast_rlm.scripted.server import agent_task, first_user_message, planned_task, repl

NOTES = """Store A sold 120 umbrellas in March and 40 in April.
Store B sold 75 umbrellas in March and 90 in April.
Store C sold 10 umbrellas in March and 200 in April."""
TASK = "For each store in the notes, how did umbrella sales change from March to April? Then sum it up."


def scripted_model(request):
    """Plays a planner that gives each store to the analyst, and agents that do what they are told."""
    task = planned_task(request)
    if task == TASK:
        subtasks = [{"task": f"Sales change of store {store}", "agent": "analyst"} for store in "ABC"]
        return json.dumps({"action": "recurse", "reason": "one store each", "subtasks": subtasks})
    if task is not None:
        return json.dumps({"action": "execute", "reason": "one line to read"})
    if "Combine the answers of the sub-tasks" in first_user_message(request):
        return repl("FINAL('; '.join(part['answer'] for part in context['subtasks']))")
    store = agent_task(request).rsplit(" ", 1)[1]
    return repl(f"""
import re
march, april = map(int, re.search(r"Store {store} sold (\\d+) .* and (\\d+)", context).groups())
FINAL(f"store {store}: {{march}} -> {{april}} ({{april - march:+d}})")
""")


def main() -> None:
    with scripted_model_config(scripted_model, "--demo" in sys.argv) as model:
        result = fast_rlm.run(
            NOTES,  # the context every agent gets; the instruction is the task
            mode="decompose",
            instruction=TASK,
            config={**model, "max_depth": 2, "max_steps": 20},
            agents={"analyst": {"instruction": "Reads sales figures and computes changes"}},
            verbosity=0,
        )
    print("log:", result["log_file"])
    print(result["results"])


if __name__ == "__main__":
    main()
