// What the rest of the engine sees of MCP. The client manager and the MCP SDK are loaded only for a
// run that has MCP servers: importing them costs about 100 ms of engine start.
import { EngineError } from "../errors.ts";
import type { McpServerSpec } from "../protocol.ts";
import type { McpManager } from "./manager.ts";

export type McpService = Pick<McpManager, "describe" | "handle" | "close">;

const NO_MCP_SERVERS: McpService = {
  describe: () => [],
  handle: () => Promise.reject(new EngineError("MCPUnavailableError", "this run has no MCP servers")),
  close: () => Promise.resolve(),
};

export async function openMcp(
  servers: Record<string, McpServerSpec>,
  timeoutSeconds: number,
): Promise<McpService> {
  if (Object.keys(servers).length === 0) return NO_MCP_SERVERS;
  const { McpManager } = await import("./manager.ts");
  return new McpManager(servers, timeoutSeconds);
}

// Values the run must never write or show: a server's env (tokens) and headers (Authorization).
export function mcpSecrets(servers: Record<string, McpServerSpec>): string[] {
  return Object.values(servers).flatMap((spec) => [
    ...Object.values(spec.env ?? {}),
    ...Object.values(spec.headers ?? {}),
  ]);
}
