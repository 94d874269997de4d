// The one interface every model client implements, and the types the rest of the engine sees of a
// model call. Two kinds of client: HttpModelClient (http_client.ts) sends a call to a provider, whose
// wire format (openai_client.ts, anthropic_client.ts) says how a chat turns into an HTTP request and
// how a reply turns into a ModelReply and usage; HostModelClient (host_model.ts) calls a Python model
// on the host. router.ts picks the client by model name.
import type { ChatMessage } from "../chat_message.ts";
import type { ModelReply } from "../reply_parts.ts";
import type { CallUsage } from "../usage.ts";

// The llm_kwargs of one call (run, role and call merged, call_parameters.ts), as the user wrote them:
// known keys, and `extra_body` whose entries go into the request body untouched.
export type CallParameters = Record<string, unknown>;

// `cached`: the reply came from the response cache (response_cache.ts), no request was sent.
export type Completion = { reply: ModelReply; usage: CallUsage; attempts: number; cached?: boolean };

export type RetryNotice = { attempt: number; reason: string; waitSeconds: number };

// What one attempt cost, as far as the client can tell: the usage the reply reported (null when a
// readable reply carried none), nothing (the provider answered with an HTTP error), or unknown (no
// readable reply: a timeout, a dropped connection, a body that is not JSON).
export type AttemptCost =
  | { kind: "answered"; usage: CallUsage | null }
  | { kind: "refused" }
  | { kind: "lost" };

// Held by one attempt from just before it is sent until its cost is known.
export type AttemptPass = { leave(cost: AttemptCost): void };

export type AttemptHooks = {
  enter: () => Promise<AttemptPass>;
  onRetry: (notice: RetryNotice) => void;
};

// What the rest of the engine calls: one model call, retried as the run allows.
export interface ModelClient {
  complete(
    model: string,
    messages: ChatMessage[],
    parameters: CallParameters,
    runSignal: AbortSignal,
    hooks: AttemptHooks,
  ): Promise<Completion>;
}

export type WireRequest = { url: string; headers: Record<string, string>; body: Record<string, unknown> };

// A reply with a 200 status, read: the model's reply (an empty one included), or why none could be
// taken from it (the usage it reported counts either way).
export type ParsedReply =
  | { kind: "reply"; reply: ModelReply; usage: CallUsage | null }
  | { kind: "unreadable"; problem: string; usage: CallUsage | null };

// One provider's wire format. The parameters were checked against what the provider takes
// (call_parameters.ts), and the messages redacted, before they reach `request`.
export interface ModelProvider {
  readonly endpoint: string;
  // Named in error messages: where the key and the URL of this provider are set.
  readonly keyHint: string;
  readonly urlHint: string;
  request(model: string, messages: ChatMessage[], parameters: CallParameters): WireRequest;
  parseReply(payload: unknown): ParsedReply;
}
