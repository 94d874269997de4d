// The native Anthropic Messages API (POST /v1/messages), for models named "anthropic:<model>". The
// system prompt travels apart from the messages, max_tokens is required, images are base64 image
// blocks, and cache breakpoints are cache_control on a message's last block. Anthropic reports the
// prompt in three parts: tokens read from the cache, tokens written to it, and the rest; and its
// reasoning in thinking blocks, kept apart from the answer as for any other model.
import type { ChatMessage, ContentPart } from "../chat_message.ts";
import { assembledReply, type ModelReply } from "../reply_parts.ts";
import { cacheBreakpoints, EPHEMERAL } from "./cache_breakpoints.ts";
import { bodyFields } from "./call_parameters.ts";
import type { CallParameters, ModelProvider, ParsedReply, WireRequest } from "./client.ts";
import { reportedUsage, tokenCount } from "./token_counts.ts";

export type AnthropicOptions = { baseUrl: string; apiKey: string; promptCaching: boolean };

export const ANTHROPIC_VERSION = "2023-06-01";
// The API requires a completion limit; a repl block and its reasoning fit well within this.
// llm_kwargs max_tokens overrides it.
const DEFAULT_MAX_TOKENS = 8192;

// stop_reason in chat-completions' finish_reason words, which the agent and the log read ("length":
// the reply was cut at its token limit). Any other reason is kept as Anthropic names it.
const FINISH_REASONS: Record<string, string> = {
  end_turn: "stop",
  stop_sequence: "stop",
  max_tokens: "length",
  tool_use: "tool_calls",
};

type Block = Record<string, unknown>;

export class AnthropicProvider implements ModelProvider {
  readonly endpoint: string;
  readonly keyHint = "Check the Anthropic key (ANTHROPIC_API_KEY or config anthropic_api_key).";
  readonly urlHint = "Check anthropic_base_url / ANTHROPIC_BASE_URL.";

  constructor(private readonly options: AnthropicOptions) {
    this.endpoint = options.baseUrl.replace(/\/+$/, "") + "/v1/messages";
  }

  request(model: string, messages: ChatMessage[], parameters: CallParameters): WireRequest {
    const marked = this.options.promptCaching ? cacheBreakpoints(messages) : new Set<number>();
    const blocksOf = (message: ChatMessage, index: number): Block[] => {
      const blocks = contentBlocks(message);
      if (!marked.has(index)) return blocks;
      return blocks.map((block, at) =>
        at === blocks.length - 1 ? { ...block, cache_control: EPHEMERAL } : block
      );
    };
    const system = messages.flatMap((message, index) =>
      message.role === "system" ? blocksOf(message, index) : []
    );
    const conversation = messages.flatMap((message, index) =>
      message.role === "system" ? [] : [{ role: message.role, content: blocksOf(message, index) }]
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
    const callUsage = reportedUsage(payload?.usage, ["input_tokens", "output_tokens"], (usage) => {
      const cacheRead = tokenCount(usage.cache_read_input_tokens);
      const cacheWrite = tokenCount(usage.cache_creation_input_tokens);
      return {
        prompt: tokenCount(usage.input_tokens) + cacheRead + cacheWrite,
        completion: usage.output_tokens,
        cached: cacheRead,
        cacheWrite,
      };
    });
    const content = payload?.content;
    if (!Array.isArray(content)) {
      return { kind: "unreadable", problem: "the model's reply has no content blocks", usage: callUsage };
    }
    return { kind: "reply", reply: replyOf(content, payload?.stop_reason), usage: callUsage };
  }
}

function contentBlocks(message: ChatMessage): Block[] {
  const parts: ContentPart[] = typeof message.content === "string"
    ? [{ type: "text", text: message.content }]
    : message.content;
  return parts.map((part) =>
    part.type === "text"
      ? { type: "text", text: part.text }
      : { type: "image", source: { type: "base64", media_type: part.media_type, data: part.data } }
  );
}

function replyOf(content: any[], stopReason: unknown): ModelReply {
  const reasoning = content.filter((block) =>
    block?.type === "thinking" && typeof block.thinking === "string"
  )
    .map((block) => block.thinking as string);
  const text = content.filter((block) => block?.type === "text" && typeof block.text === "string")
    .map((block) => block.text as string).join("");
  const finishReason = typeof stopReason === "string" ? FINISH_REASONS[stopReason] ?? stopReason : null;
  return assembledReply(text, reasoning, finishReason);
}
