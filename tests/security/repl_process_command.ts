// Prints, as JSON, the command the engine starts a REPL process with: it calls the engine's own
// replProcessCommand with the launch the engine builds (engine/main.ts) and records what reaches
// Deno.Command instead of spawning it. test_repl_process_permissions.py starts that command with a
// probe in place of the supervisor, so the probe runs with exactly the REPL process's flags and
// environment.
//
// Arguments: the Python host's repl_launch paths (JSON), the snapshot file, repl_memory_mb and, optionally,
// allow_net (JSON).
import { PYODIDE_DIR } from "../../engine/repl/pool.ts";
import { replProcessCommand } from "../../engine/repl/repl_process.ts";

type RecordedCommand = { command: string; options: Deno.CommandOptions };

let recorded: RecordedCommand | null = null;
class RecordingCommand {
  constructor(command: string, options: Deno.CommandOptions) {
    recorded = { command, options };
  }
}
Object.defineProperty(Deno, "Command", { value: RecordingCommand });

const [launchJson, snapshotFile, memoryLimitMb, netGrantJson] = Deno.args;
const paths = JSON.parse(launchJson);
replProcessCommand({
  launch: {
    denoBinary: paths.deno_binary,
    configFile: paths.config_file,
    lockFile: paths.lock_file,
    denoDir: paths.deno_dir,
    pyodideDir: PYODIDE_DIR,
    pythonPackagesFile: paths.python_packages_file,
    netGrant: JSON.parse(netGrantJson ?? "[]"),
  },
  snapshotFile,
  memoryLimitMb: Number(memoryLimitMb),
  maxFrameBytes: 1, // not part of the command
});
console.log(JSON.stringify(recorded));
