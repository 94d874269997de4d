// The native Anthropic Messages API (POST /v1/messages), for models named "anthropic:<model>". The
// system prompt travels apart from the messages, max_tokens is required, and cache breakpoints are
// cache_control on text blocks. Anthropic reports the prompt in three parts: tokens read from the
// cache, tokens written to it, and the rest.
import { cacheBreakpoints, EPHEMERAL } from "./cache_breakpoints.ts";
import { bodyFields } from "./call_parameters.ts";
import type { CallParameters, ChatMessage, ModelProvider, ParsedReply, WireRequest } from "./client.ts";
import { tokenCount } from "./token_counts.ts";

export type AnthropicOptions = { baseUrl: string; apiKey: string; promptCaching: boolean };

export const ANTHROPIC_VERSION = "2023-06-01";
// The API requires a completion limit; a repl block and its reasoning fit well within this.
// llm_kwargs max_tokens overrides it.
const DEFAULT_MAX_TOKENS = 8192;

export class AnthropicProvider implements ModelProvider {
  readonly endpoint: string;
  readonly keyHint = "Check the Anthropic key (ANTHROPIC_API_KEY or config anthropic_api_key).";
  readonly urlHint = "Check anthropic_base_url / ANTHROPIC_BASE_URL.";

  constructor(private readonly options: AnthropicOptions) {
    this.endpoint = options.baseUrl.replace(/\/+$/, "") + "/v1/messages";
  }

  request(model: string, messages: ChatMessage[], parameters: CallParameters): WireRequest {
    const marked = this.options.promptCaching ? cacheBreakpoints(messages) : new Set<number>();
    const block = (message: ChatMessage, index: number) => ({
      type: "text",
      text: message.content,
      ...(marked.has(index) ? { cache_control: EPHEMERAL } : {}),
    });
    const system = messages.flatMap((message, index) =>
      message.role === "system" ? [block(message, index)] : []
    );
    const conversation = messages.flatMap((message, index) =>
      message.role === "system" ? [] : [{ role: message.role, content: [block(message, index)] }]
    );
    return {
      url: this.endpoint,
      headers: {
        "content-type": "application/json",
        "x-api-key": this.options.apiKey,
        "anthropic-version": ANTHROPIC_VERSION,
      },
      body: {
        max_tokens: DEFAULT_MAX_TOKENS,
        ...bodyFields(parameters),
        model,
        ...(system.length > 0 ? { system } : {}),
        messages: conversation,
      },
    };
  }

  parseReply(payload: any): ParsedReply {
    const usage = payload?.usage;
    const hasCounts = typeof usage === "object" && usage !== null &&
      ("input_tokens" in usage || "output_tokens" in usage);
    const cacheRead = tokenCount(usage?.cache_read_input_tokens);
    const cacheWrite = tokenCount(usage?.cache_creation_input_tokens);
    const callUsage = hasCounts
      ? {
        prompt_tokens: tokenCount(usage.input_tokens) + cacheRead + cacheWrite,
        completion_tokens: tokenCount(usage.output_tokens),
        cached_tokens: cacheRead,
        cache_write_tokens: cacheWrite,
        reasoning_tokens: 0,
        cost: null,
      }
      : null;
    const content = payload?.content;
    if (!Array.isArray(content)) {
      return { kind: "unreadable", problem: "the model's reply has no content blocks", usage: callUsage };
    }
    // Thinking blocks are the model's reasoning, not its answer.
    const text = content.filter((part) => part?.type === "text" && typeof part.text === "string")
      .map((part) => part.text).join("");
    return { kind: "text", text, usage: callUsage };
  }
}
