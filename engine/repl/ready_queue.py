"""asyncio's call_soon for the interpreter's event loop: callbacks gathered in a queue and run in
batches, one JavaScript macrotask a batch.

Pyodide's WebLoop gives every call_soon a JavaScript callback of its own through setTimeout(0): a
proxy made, a timer set, a trip through the event loop. Every task start and every wake-up of an
awaiting task is one, so a parent awaiting a thousand children paid a thousand of them, and Deno
clamps chains of nested zero-delay timers to a millisecond or more each. Measured in a REPL process:
gathering 1,000 resolved promises took 155 ms that way and 41 ms in batches.

worker.ts calls run_ready() on a MessageChannel message (a macrotask: messages from the supervisor
still get their turn between batches), with JSPI, so a callback may suspend its stack (run_sync).
While one does, the batch's other callbacks wait in the queue for the next run_ready, which is
asked for before the batch starts: no agent's suspended code holds up another agent's.
"""

import asyncio
from collections import deque

_Handle = asyncio.Handle


class ReadyQueue:
    def __init__(self, loop, request_run, before_callback) -> None:
        self._loop = loop
        self._request_run = request_run  # asks worker.ts for a run_ready() call on a later macrotask
        # Sends worker.ts's waiting messages: what earlier callbacks produced (a step's outcome) must
        # not wait on the code of the next one.
        self._before_callback = before_callback
        self._ready: deque = deque()
        self._run_requested = False

    def call_soon(self, callback, *args, context=None):
        handle = _Handle(callback, args, self._loop, context=context)
        self._ready.append(handle)
        if not self._run_requested:
            self._run_requested = True
            self._request_run()
        return handle

    def run_ready(self) -> None:
        """Runs the callbacks queued so far; those they queue run in the next batch."""
        self._run_requested = False
        count = len(self._ready)
        if count == 0:
            return
        # Asked for now, not after the batch: a callback that suspends through JSPI stops this loop
        # until it resumes, and the next batch must not wait for it.
        self._run_requested = True
        self._request_run()
        self._loop._install_running_loop()  # each JSPI-promising call runs on a thread state of its own
        ready = self._ready
        for _ in range(count):
            if not ready:
                return  # a batch that resumed after a suspension: others ran what was left
            handle = ready.popleft()
            if handle._cancelled:
                continue
            self._before_callback()
            try:
                handle._run()
            except BaseException:  # noqa: BLE001
                # SystemExit or KeyboardInterrupt out of a stray task (asyncio re-raises both): the
                # worker's event loop must go on; the step's own errors are caught in the step.
                continue
