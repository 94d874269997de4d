// Makes the interpreter snapshot into the cache ahead of any run, for `fast-rlm setup` and the first
// run's set-up (fast_rlm/host/engine_setup.py), so the wait is announced there instead of hidden
// inside a run; an engine then finds the file and skips its own ensureSnapshot. Arguments: the REPL
// launch paths as JSON (the start message's repl_launch) and the snapshot file.
import { ensureSnapshot, replLaunchFrom } from "./pool.ts";
import type { ReplLaunchPaths } from "../protocol.ts";

const [pathsJson, snapshotFile] = Deno.args;
// The process that makes the snapshot runs no agent code: it is granted no network.
await ensureSnapshot(replLaunchFrom(JSON.parse(pathsJson) as ReplLaunchPaths, []), snapshotFile);
