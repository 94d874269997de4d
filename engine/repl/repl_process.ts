// The engine's handle on one REPL process: a Deno process started with no permission beyond reading
// Pyodide's files, the snapshot and the worker module, an empty environment, code generation from
// strings disallowed and its JS heap capped. It speaks frames (frames.ts) over its stdin and stdout;
// its stderr is kept only as a short tail for error messages. Whatever it sends is untrusted: a
// frame over the cap or a malformed one ends the process.
import { FrameReader, FrameWriter } from "./frames.ts";
import { type FromReplProcess, GC_GLOBAL, type ToReplProcess } from "./repl_messages.ts";

// How the engine starts REPL processes; paths come from the Python host's start message.
export type ReplLaunch = {
  denoBinary: string;
  configFile: string;
  lockFile: string;
  denoDir: string;
  pyodideDir: string;
  pythonPackagesFile: string;
  netGrant: string[]; // allow_net: the hosts ("host" or "host:port") REPL code may reach
};

export type ReplProcessOptions = {
  launch: ReplLaunch;
  snapshotFile: string | null; // null: a process that only makes the snapshot
  memoryLimitMb: number;
  maxFrameBytes: number;
};

const SUPERVISOR_FILE = new URL("./supervisor.ts", import.meta.url).pathname;
// The worker's module and its static imports: Deno checks read permission for a worker's graph.
const WORKER_FILES = ["./worker.ts", "./repl_messages.ts"].map((file) =>
  new URL(file, import.meta.url).pathname
);
const STDERR_TAIL_CHARS = 2000;
const V8_FLAGS = [
  "--disallow-code-generation-from-strings", // js.eval and Function constructors throw EvalError
  // Optimised wasm code only for what runs long: a burst of short steps (a fan-out) otherwise spends
  // its CPU compiling CPython's hot functions; long computations still get them. Without inlining,
  // the interpreter loop (260 KB of optimised code) compiles far faster, and a fan-out of 1,000 no
  // longer compiles it three times over (speculative inlining, then deopts). Measured on 2 cores
  // (benchmarks/README.md, "V8 flags"): fan-out 1,000 1.63 -> 1.37 s, a pure-Python loop 5% slower.
  "--wasm-tiering-budget=1000000000",
  "--no-wasm-inlining",
  "--max-semi-space-size=1", // a small young generation: the JS side of a REPL allocates little
  `--expose-gc-as=${GC_GLOBAL}`, // for worker.ts, once, after the restore; cleared from the globals
].join(",");

export function replProcessCommand(options: ReplProcessOptions): Deno.Command {
  const { launch, snapshotFile, memoryLimitMb } = options;
  // The process that makes the snapshot runs no agent code: it needs neither the packages nor the network.
  const forAgents = snapshotFile !== null;
  const readable = [
    launch.pyodideDir,
    ...WORKER_FILES,
    ...(forAgents ? [snapshotFile, launch.pythonPackagesFile] : []),
  ];
  // Only the supervisor uses the grant: it starts its worker, where agent code runs, with no permission
  // to the network (hence --unstable-worker-options) and relays the worker's requests.
  const network = forAgents && launch.netGrant.length > 0 ? [`--allow-net=${launch.netGrant.join(",")}`] : [];
  return new Deno.Command(launch.denoBinary, {
    args: [
      "run",
      "--cached-only",
      "--frozen",
      "--no-remote",
      "--no-prompt",
      `--v8-flags=${V8_FLAGS},--max-old-space-size=${memoryLimitMb}`,
      "--config",
      launch.configFile,
      "--lock",
      launch.lockFile,
      "--unstable-worker-options",
      `--allow-read=${readable.join(",")}`,
      ...network,
      SUPERVISOR_FILE,
    ],
    clearEnv: true,
    env: {
      DENO_DIR: launch.denoDir,
      DENO_NO_UPDATE_CHECK: "1",
      DENO_NO_PACKAGE_JSON: "1",
      NO_COLOR: "1",
      // glibc raises its mmap threshold each time a large block is freed, so the snapshot file's
      // bytes and their copies (30 MB each) were then taken from the heap and never given back: two
      // of them stayed resident in every process. A fixed threshold returns them (measured: 183 MB
      // RSS -> 151 MB per idle process).
      MALLOC_MMAP_THRESHOLD_: String(128 * 1024),
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

export class ReplProcess {
  readonly ready: Promise<void>;
  readonly ended: Promise<string>; // resolves with why the process ended
  lastHeardAt = performance.now();
  rssBytes = 0;
  agentCount = 0;
  private child: Deno.ChildProcess;
  private writer: FrameWriter;
  private isReady = false;
  private waitingForReady: [ToReplProcess, Uint8Array | undefined][] = [];
  private endReason: string | null = null;
  private stderrTail = "";
  private markReady: () => void = () => {};
  private markFailed: (error: Error) => void = () => {};

  constructor(
    options: ReplProcessOptions,
    private onMessage: (process: ReplProcess, message: FromReplProcess, payload: Uint8Array) => void,
  ) {
    this.child = replProcessCommand(options).spawn();
    this.writer = new FrameWriter(this.child.stdin.getWriter());
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.markFailed = reject;
    });
    this.ready.catch(() => {}); // observed by whoever awaits it
    this.readFrames(options.maxFrameBytes);
    this.readStderr();
    this.ended = this.child.status.then((status) => {
      const why = this.endReason ??
        `its REPL process exited (code ${status.code}${status.signal ? `, signal ${status.signal}` : ""})`;
      this.endReason = why;
      this.markFailed(new Error(`${why}${this.stderrNote()}`));
      return why;
    });
  }

  get alive(): boolean {
    return this.endReason === null;
  }

  // Sends at once; for the first message (init or make_snapshot).
  sendNow(message: ToReplProcess, payload?: Uint8Array): void {
    this.writer.send(message, payload);
  }

  // Sends once the process is ready: nothing reaches an interpreter that is still starting.
  send(message: ToReplProcess, payload?: Uint8Array): void {
    if (!this.alive) return;
    if (this.isReady) this.writer.send(message, payload);
    else this.waitingForReady.push([message, payload]);
  }

  kill(why: string): void {
    if (!this.alive) return;
    this.endReason = why;
    try {
      this.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  failStart(error: Error): void {
    this.markFailed(error);
  }

  stderrNote(): string {
    const tail = this.stderrTail.trim();
    return tail ? `. Its last words: ${tail}` : "";
  }

  private async readFrames(maxFrameBytes: number): Promise<void> {
    const reader = new FrameReader<FromReplProcess>(this.child.stdout, maxFrameBytes);
    try {
      for (let frame = await reader.next(); frame !== null; frame = await reader.next()) {
        this.lastHeardAt = performance.now();
        const message = frame.message;
        if (message?.kind === "status") {
          this.rssBytes = Number(message.rssBytes) || 0;
        } else if (message?.kind === "ready") {
          this.isReady = true;
          for (const [queued, payload] of this.waitingForReady) this.writer.send(queued, payload);
          this.waitingForReady = [];
          this.markReady();
        } else {
          this.onMessage(this, message, frame.payload);
        }
      }
    } catch (error) {
      this.kill(
        `its REPL process sent a malformed message (${error instanceof Error ? error.message : error})`,
      );
    }
  }

  private async readStderr(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.child.stderr) {
      this.stderrTail = (this.stderrTail + decoder.decode(chunk, { stream: true })).slice(-STDERR_TAIL_CHARS);
    }
  }
}
