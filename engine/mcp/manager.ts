// The run's MCP clients. A server is connected the first time an agent uses it (a stdio server is
// spawned then, not before) and that one connection serves every agent of the run. A connection that
// fails or whose server exits is dropped; the next use connects again. close() ends them all and
// reaps every stdio server; after it nothing new is started.
//
// Failures never end the run: each becomes an EngineError that the agent's REPL raises as MCPError.

// The SDK's "./*" export points the types of "x.js" at "x.js.d.ts", which does not exist; each
// @ts-types names the extensionless subpath, whose types resolve to "x.d.ts".
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  type Resource,
  type ResourceTemplate,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { EngineError } from "../errors.ts";
import { schemaViolations } from "../output_schema.ts";
import type { McpServerSpec } from "../protocol.ts";
import { DenoStdioTransport } from "./stdio_transport.ts";

// What agent code asks (engine/repl/mcp_functions.py sends these as request kind "mcp").
export type McpRequest =
  | { op: "list_tools"; server: string | null }
  | { op: "tool_schema"; tool: string } // "server.tool"
  | { op: "call"; server: string; tool: string; arguments: Record<string, unknown> }
  | { op: "list_resources"; server?: string | null }
  | { op: "list_resource_templates"; server: string | null }
  | { op: "read_resource"; uri: string; server: string | null };

// Told when a tool call or resource read ends (error null when it succeeded), for the log.
export type McpCallRecorder = (name: string, started: number, error: unknown) => void;

// Error types the REPL's MCPError carries as `kind`.
const unavailableError = (message: string) => new EngineError("MCPUnavailableError", message);
const serverError = (message: string) => new EngineError("MCPServerError", message);
const timeoutError = (message: string) => new EngineError("MCPTimeoutError", message);
const toolError = (message: string) => new EngineError("MCPToolError", message);
const argumentError = (message: string) => new EngineError("MCPArgumentError", message);

const CLIENT_INFO = { name: "fast-rlm", version: "1" };
const SESSION_END_GRACE_MS = 1000; // an HTTP server gets this long to acknowledge the session's end

type Transport = DenoStdioTransport | StreamableHTTPClientTransport;
type Connection = {
  client: Client;
  transport: Transport;
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
};

type Entry = {
  name: string;
  client: Client;
  transport: Transport;
  ready: Promise<Connection>;
  connection: Connection | null; // set once ready
};

export class McpManager {
  private readonly entries = new Map<string, Entry>(); // the live (or connecting) one per server
  private readonly opened = new Set<Entry>(); // every entry not yet closed, for close()
  private closed = false;

  constructor(
    private readonly servers: Record<string, McpServerSpec>,
    private readonly timeoutSeconds: number,
  ) {}

  // For the first prompt: "files (3 tools, 1 resource)" once connected; counting would need a connection.
  describe(names: string[]): string[] {
    return names.map((name) => {
      const connection = this.entries.get(name)?.connection;
      if (!connection) return `${name} (not started yet)`;
      return `${name} (${plural(connection.tools.length, "tool")}, ${
        plural(connection.resources.length, "resource")
      })`;
    });
  }

  // `allowed` are the servers of the asking agent.
  async handle(
    allowed: string[],
    request: McpRequest,
    signal: AbortSignal,
    record: McpCallRecorder,
  ): Promise<unknown> {
    const use = (server: string) => {
      if (!allowed.includes(server)) {
        throw unavailableError(
          `no MCP server named ${JSON.stringify(server)} is available here; available: ${
            allowed.join(", ") || "none"
          }`,
        );
      }
      return this.connection(server, signal);
    };
    switch (request.op) {
      case "list_tools": {
        const names = request.server === null ? allowed : [request.server];
        const listed = await Promise.all(names.map(async (server) => {
          const { tools } = await use(server);
          return tools.map((tool) => ({
            server,
            name: tool.name,
            qualified_name: `${server}.${tool.name}`,
            description: tool.description ?? "",
          }));
        }));
        return listed.flat();
      }
      case "tool_schema": {
        const dot = request.tool.indexOf(".");
        if (dot <= 0) {
          throw unavailableError(`name the tool as "server.tool", not ${JSON.stringify(request.tool)}`);
        }
        const server = request.tool.slice(0, dot);
        return findTool(server, await use(server), request.tool.slice(dot + 1)).inputSchema;
      }
      case "call": {
        const name = `mcp:${request.server}.${request.tool}`;
        return await recorded(record, name, async () => {
          const connection = await use(request.server);
          const tool = findTool(request.server, connection, request.tool);
          await checkArguments(request.server, tool, request.arguments, this.timeoutSeconds);
          const result = await this.ask(
            connection,
            request.server,
            `${request.server}.${request.tool}`,
            signal,
            (options) =>
              connection.client.callTool(
                { name: tool.name, arguments: request.arguments },
                undefined,
                options,
              ),
          );
          return toolValue(`${request.server}.${request.tool}`, tool, result as CallToolResult);
        });
      }
      case "list_resources": {
        const names = (request.server ?? null) === null ? allowed : [request.server!];
        const listed = await Promise.all(names.map(async (server) => {
          const { resources } = await use(server);
          return resources.map((resource) => ({
            server,
            uri: resource.uri,
            name: resource.name,
            description: resource.description ?? "",
            mimeType: resource.mimeType ?? null,
            mime_type: resource.mimeType ?? null,
          }));
        }));
        return listed.flat();
      }
      case "list_resource_templates": {
        const names = request.server === null ? allowed : [request.server];
        const listed = await Promise.all(names.map(async (server) => {
          const { resourceTemplates } = await use(server);
          return resourceTemplates.map((template) => ({
            server,
            uriTemplate: template.uriTemplate,
            name: template.name,
            description: template.description ?? "",
            mimeType: template.mimeType ?? null,
          }));
        }));
        return listed.flat();
      }
      case "read_resource": {
        const server = request.server ?? await this.serverListing(allowed, request.uri, signal);
        return await recorded(record, `mcp:${server}.read_resource`, async () => {
          const connection = await use(server);
          const result = await this.ask(
            connection,
            server,
            `reading ${request.uri} from ${server}`,
            signal,
            (options) => connection.client.readResource({ uri: request.uri }, options),
          );
          return result.contents.map((content) =>
            "text" in content ? { text: content.text } : { blob: content.blob }
          );
        });
      }
      default:
        throw unavailableError(`unknown MCP request ${JSON.stringify((request as { op: unknown }).op)}`);
    }
  }

  // Ends every connection and reaps every stdio server; safe to call more than once.
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.opened].map((entry) => this.closeEntry(entry)));
  }

  private async serverListing(allowed: string[], uri: string, signal: AbortSignal): Promise<string> {
    for (const server of allowed) {
      const { resources } = await this.connection(server, signal);
      if (resources.some((resource) => resource.uri === uri)) return server;
    }
    if (allowed.length === 1) return allowed[0]; // a templated URI its one server may still serve
    throw unavailableError(
      `no MCP server lists the resource ${JSON.stringify(uri)}; pass server= to read it from one of: ${
        allowed.join(", ")
      }`,
    );
  }

  private connection(name: string, signal: AbortSignal): Promise<Connection> {
    if (this.closed) return Promise.reject(serverError(`the run is over; MCP server ${name} is closed`));
    const live = this.entries.get(name);
    if (live) return live.ready;
    const spec = this.servers[name];
    if (!spec) return Promise.reject(unavailableError(`no MCP server named ${JSON.stringify(name)}`));
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    const transport = spec.command !== undefined
      ? new DenoStdioTransport({
        command: spec.command,
        args: spec.args ?? [],
        env: spec.env ?? {},
        cwd: spec.cwd ?? null,
      })
      : new StreamableHTTPClientTransport(new URL(spec.url!), {
        requestInit: { headers: spec.headers ?? {} },
      });
    const entry: Entry = { name, client, transport, ready: Promise.resolve(null!), connection: null };
    entry.ready = this.connect(entry, signal);
    entry.ready.catch(() => {}); // every caller awaits it; a failure reaches them there
    this.entries.set(name, entry);
    this.opened.add(entry);
    // The server went away (exited, or the HTTP session broke): the next use connects again.
    client.onclose = () => this.forget(entry);
    return entry.ready;
  }

  private async connect(entry: Entry, signal: AbortSignal): Promise<Connection> {
    const { client, transport } = entry;
    try {
      const options = { timeout: this.timeoutSeconds * 1000, signal };
      await client.connect(transport, options);
      const capabilities = client.getServerCapabilities() ?? {};
      const connection: Connection = { client, transport, tools: [], resources: [], resourceTemplates: [] };
      if (capabilities.tools) {
        let cursor: string | undefined;
        do {
          const page = await client.listTools(cursor ? { cursor } : undefined, options);
          connection.tools.push(...page.tools);
          cursor = page.nextCursor;
        } while (cursor);
      }
      if (capabilities.resources) {
        let cursor: string | undefined;
        do {
          const page = await client.listResources(cursor ? { cursor } : undefined, options);
          connection.resources.push(...page.resources);
          cursor = page.nextCursor;
        } while (cursor);
        connection.resourceTemplates = await resourceTemplatesOf(client, options);
      }
      entry.connection = connection;
      return connection;
    } catch (error) {
      const failure = signal.aborted ? signal.reason : this.failure(entry, error);
      await this.closeEntry(entry);
      throw failure;
    }
  }

  // One request to a connected server, with the per-call timeout; its failures in the agent's terms.
  private async ask<T>(
    connection: Connection,
    server: string,
    what: string,
    signal: AbortSignal,
    send: (options: { timeout: number; signal: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    try {
      return await send({ timeout: this.timeoutSeconds * 1000, signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
        throw timeoutError(
          `${what}: no answer within mcp_timeout_s=${this.timeoutSeconds}s; the request was cancelled`,
        );
      }
      const exited = exitOf(server, connection.transport, `during ${what}`);
      if (exited !== null) throw serverError(exited);
      if (error instanceof McpError && error.code === ErrorCode.ConnectionClosed) {
        throw serverError(`MCP server ${server} closed the connection during ${what}`);
      }
      if (error instanceof McpError) throw toolError(`${what}: ${error.message}`);
      throw serverError(`${what}: ${describe(error)}`);
    }
  }

  // Why a server could not be connected: its own last words when it exited.
  private failure(entry: Entry, error: unknown): EngineError {
    if (error instanceof EngineError) return error;
    if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
      return timeoutError(
        `MCP server ${entry.name} did not finish starting within mcp_timeout_s=${this.timeoutSeconds}s`,
      );
    }
    const exited = exitOf(entry.name, entry.transport, "while starting");
    if (exited !== null) return serverError(exited);
    const spec = this.servers[entry.name];
    const where = spec.command !== undefined ? `(${spec.command})` : `at ${spec.url}`;
    return serverError(`could not start MCP server ${entry.name} ${where}: ${describe(error)}`);
  }

  private forget(entry: Entry): void {
    if (this.entries.get(entry.name) === entry) this.entries.delete(entry.name);
  }

  private async closeEntry(entry: Entry): Promise<void> {
    this.forget(entry);
    if (!this.opened.delete(entry)) return;
    const transport = entry.transport;
    if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
      await withinMs(transport.terminateSession().catch(() => {}), SESSION_END_GRACE_MS);
    }
    await entry.client.close().catch(() => {});
    await transport.close().catch(() => {}); // the client skips it when connect() never began
  }
}

// Templates are optional in a server that has resources: one that does not know the method has none.
async function resourceTemplatesOf(
  client: Client,
  options: { timeout: number; signal: AbortSignal },
): Promise<ResourceTemplate[]> {
  const templates: ResourceTemplate[] = [];
  let cursor: string | undefined;
  try {
    do {
      const page = await client.listResourceTemplates(cursor ? { cursor } : undefined, options);
      templates.push(...page.resourceTemplates);
      cursor = page.nextCursor;
    } while (cursor);
  } catch (error) {
    if (error instanceof McpError && error.code === ErrorCode.MethodNotFound) return [];
    throw error;
  }
  return templates;
}

// "MCP server files exited with code 3 during files.read; its stderr ends with: ...", when it did.
function exitOf(server: string, transport: Transport, when: string): string | null {
  const report = transport instanceof DenoStdioTransport ? transport.exitReport() : null;
  if (report === null) return null;
  const said = report.stderr ? `; its stderr ends with:\n${report.stderr}` : " (it wrote nothing to stderr)";
  return `MCP server ${server} ${report.how} ${when}${said}`;
}

function findTool(server: string, connection: Connection, name: string): Tool {
  const tool = connection.tools.find((candidate) => candidate.name === name);
  if (tool) return tool;
  const names = connection.tools.map((candidate) => candidate.name).join(", ") || "none";
  throw unavailableError(`MCP server ${server} has no tool ${JSON.stringify(name)}; its tools: ${names}`);
}

// The check is part of the MCP request, so mcp_timeout_s bounds it too.
async function checkArguments(
  server: string,
  tool: Tool,
  args: Record<string, unknown>,
  timeoutSeconds: number,
): Promise<void> {
  // The SDK's servers written with zod declare draft-07; the validator reads 2020-12, and the
  // keywords tools use mean the same in both.
  const { $schema: _draft, ...schema } = tool.inputSchema as Record<string, unknown>;
  let violations: string[];
  try {
    violations = await schemaViolations(schema, JSON.stringify(args), timeoutSeconds, "mcp_timeout_s");
  } catch {
    return; // a schema the validator cannot compile: the server checks its own arguments
  }
  if (violations.length > 0) {
    throw argumentError(
      `the arguments of ${server}.${tool.name} do not match its input schema (see ` +
        `mcp_tool_schema("${server}.${tool.name}")): ${violations.join("; ")}`,
    );
  }
}

// Structured content when the tool gives it; else the text (one block) or the list of blocks.
function toolValue(name: string, tool: Tool, result: CallToolResult): unknown {
  if (result.isError) {
    const text = result.content.map((block) => block.type === "text" ? block.text : JSON.stringify(block))
      .join("\n");
    throw toolError(`${name} returned an error: ${text || "(no message)"}`);
  }
  if (result.structuredContent !== undefined) {
    return isWrappedValue(tool, result.structuredContent)
      ? result.structuredContent.result
      : result.structuredContent;
  }
  const values = result.content.map((block) => block.type === "text" ? block.text : block);
  if (values.length === 0) return null;
  return values.length === 1 && typeof values[0] === "string" ? values[0] : values;
}

// Python MCP servers return a plain value (an int, a str, a list) as {"result": value}, declaring an
// output schema with that one property: the agent gets the value itself.
function isWrappedValue(tool: Tool, content: Record<string, unknown>): boolean {
  const declared = Object.keys(tool.outputSchema?.properties ?? {});
  const keys = Object.keys(content);
  return declared.length === 1 && declared[0] === "result" && keys.length === 1 && keys[0] === "result";
}

async function recorded<T>(record: McpCallRecorder, name: string, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const value = await call();
    record(name, started, null);
    return value;
  } catch (error) {
    record(name, started, error);
    throw error;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

async function withinMs(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}
