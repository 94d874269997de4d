// The MCP stdio transport, on Deno.Command. The SDK's own spawns through node:child_process and copies
// HOME, PATH, USER, ... from the engine's environment, which the engine may not read (no --allow-env)
// and should not pass on: here the server gets exactly the `env` it was configured with, plus a PATH
// when it has none (see serverEnvironment). The process is the engine's child, in its process group,
// and close() always reaps it.
// @ts-types="@modelcontextprotocol/sdk/shared/stdio"
import { deserializeMessage, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
// @ts-types="@modelcontextprotocol/sdk/shared/transport"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

export type StdioServerSpec = {
  command: string; // an absolute path: fast_rlm/inputs/mcp_config.py resolves it and grants --allow-run on it
  args: string[];
  env: Record<string, string>;
  cwd: string | null;
};

const STDERR_TAIL_CHARS = 2000;
const EXIT_GRACE_MS = 500; // after stdin closes, before SIGTERM
const TERM_GRACE_MS = 1000; // after SIGTERM, before SIGKILL
const STDERR_DRAIN_MS = 200; // a grandchild may hold stderr open after the server exits

// Directories for `#!/usr/bin/env node`-style launchers: the command's own (a venv's or node's bin)
// and the system's. Nothing of the user's environment is read or passed on.
export function serverEnvironment(spec: StdioServerSpec): Record<string, string> {
  if ("PATH" in spec.env) return spec.env;
  const windows = Deno.build.os === "windows";
  const commandDir = spec.command.replace(windows ? /[\\/][^\\/]*$/ : /\/[^/]*$/, "");
  const systemDirs = windows ? [] : ["/usr/local/bin", "/usr/bin", "/bin"];
  const path = [commandDir, ...systemDirs].filter((dir, i, all) => dir && all.indexOf(dir) === i);
  return { ...spec.env, PATH: path.join(windows ? ";" : ":") };
}

export class DenoStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private child: Deno.ChildProcess | null = null;
  private stdin: WritableStreamDefaultWriter<Uint8Array> | null = null;
  private stderrTail = "";
  private exitStatus: Deno.CommandStatus | null = null;
  private closing = false; // close() may come before start(): nothing is spawned after it
  private finished: Promise<void> = Promise.resolve();
  private readonly encoder = new TextEncoder();

  constructor(private readonly spec: StdioServerSpec) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  // Once the process has ended: how ("exited with code 3") and the end of what it wrote to stderr.
  exitReport(): { how: string; stderr: string } | null {
    if (this.exitStatus === null) return null;
    const how = this.exitStatus.signal !== null
      ? `was killed by ${this.exitStatus.signal}`
      : `exited with code ${this.exitStatus.code}`;
    return { how, stderr: this.stderrTail.trim() };
  }

  start(): Promise<void> {
    if (this.closing) return Promise.reject(new Error("the transport was closed before it started"));
    const command = new Deno.Command(this.spec.command, {
      args: this.spec.args,
      cwd: this.spec.cwd ?? undefined,
      env: serverEnvironment(this.spec),
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
    const child = command.spawn(); // throws (not found, no permission) straight to connect()
    this.child = child;
    this.stdin = child.stdin.getWriter();
    const stdoutDone = this.readMessages(child.stdout);
    const stderrDone = this.collectStderr(child.stderr);
    this.finished = Promise.all([child.status, stdoutDone]).then(async ([status]) => {
      await Promise.race([stderrDone, delay(STDERR_DRAIN_MS)]);
      this.exitStatus = status;
      try {
        this.onclose?.();
      } catch (error) {
        this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      }
    });
    return Promise.resolve();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.stdin === null || this.exitStatus !== null) throw new Error("the MCP server is not running");
    await this.stdin.write(this.encoder.encode(serializeMessage(message)));
  }

  // Closing stdin asks the server to stop (the MCP stdio convention); SIGTERM, then SIGKILL, make sure.
  async close(): Promise<void> {
    this.closing = true;
    const child = this.child;
    if (child === null) return;
    if (this.exitStatus === null) {
      await this.stdin?.close().catch(() => {});
      if (!(await settlesWithin(this.finished, EXIT_GRACE_MS))) {
        signal(child, "SIGTERM");
        if (!(await settlesWithin(this.finished, TERM_GRACE_MS))) signal(child, "SIGKILL");
      }
    }
    await this.finished;
  }

  private async readMessages(stdout: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    try {
      for await (const chunk of stdout) {
        pending += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = pending.indexOf("\n")) !== -1) {
          const line = pending.slice(0, newline).replace(/\r$/, "");
          pending = pending.slice(newline + 1);
          if (line.trim()) this.deliver(line);
        }
      }
    } catch (error) {
      this.onerror?.(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private deliver(line: string): void {
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line);
    } catch {
      this.onerror?.(new Error(`the MCP server wrote a line that is not JSON-RPC: ${line.slice(0, 200)}`));
      return;
    }
    this.onmessage?.(message);
  }

  private async collectStderr(stderr: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stderr) {
        this.stderrTail = (this.stderrTail + decoder.decode(chunk, { stream: true })).slice(
          -STDERR_TAIL_CHARS,
        );
      }
    } catch {
      // The stream ends with the process; what was read so far is the tail.
    }
  }
}

function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch {
    // It exited in the meantime.
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
