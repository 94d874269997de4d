// The OpenAI-compatible chat-completions wire format (OpenRouter, OpenAI, vLLM, Ollama, ...). Images
// travel as image_url parts. For OpenRouter's "anthropic/..." models the cache breakpoints travel as
// cache_control on text parts, which OpenRouter passes on to Anthropic; every other provider caches
// prefixes by itself. llm_kwargs' extra_body entries are merged into the body, as the OpenAI SDK does.
import { type ChatMessage, openAiContent } from "../chat_message.ts";
import { replyFromChoice } from "../reply_parts.ts";
import { cacheBreakpoints, EPHEMERAL } from "./cache_breakpoints.ts";
import { bodyFields } from "./call_parameters.ts";
import type { CallParameters, ModelProvider, ParsedReply, WireRequest } from "./client.ts";
import { reportedUsage } from "./token_counts.ts";

export type OpenAiOptions = { baseUrl: string; apiKey: string; promptCaching: boolean };

const GATEWAY_CACHED_MODELS = /^anthropic\//;

export class OpenAiProvider implements ModelProvider {
  readonly endpoint: string;
  readonly keyHint = "Check the API key (RLM_MODEL_API_KEY or config api_key).";
  readonly urlHint = "Check base_url / RLM_MODEL_BASE_URL.";

  constructor(private readonly options: OpenAiOptions) {
    this.endpoint = options.baseUrl.replace(/\/+$/, "") + "/chat/completions";
  }

  request(model: string, messages: ChatMessage[], parameters: CallParameters): WireRequest {
    const marked = this.options.promptCaching && GATEWAY_CACHED_MODELS.test(model)
      ? cacheBreakpoints(messages)
      : new Set<number>();
    return {
      url: this.endpoint,
      headers: { "content-type": "application/json", authorization: `Bearer ${this.options.apiKey}` },
      body: {
        ...bodyFields(parameters),
        model,
        messages: messages.map((message, index) => ({
          role: message.role,
          content: marked.has(index) ? withBreakpoint(openAiContent(message)) : openAiContent(message),
        })),
      },
    };
  }

  parseReply(payload: any): ParsedReply {
    const callUsage = reportedUsage(payload?.usage, ["prompt_tokens", "completion_tokens"], (usage) => ({
      prompt: usage.prompt_tokens,
      completion: usage.completion_tokens,
      cached: usage.prompt_tokens_details?.cached_tokens,
      cacheWrite: usage.prompt_tokens_details?.cache_write_tokens,
      reasoning: usage.completion_tokens_details?.reasoning_tokens,
      cost: usage.cost,
    }));
    // An empty or null content is an answer (the agent tells the model so); no message is not.
    const reply = replyFromChoice(payload?.choices?.[0]);
    if (reply === null) {
      return { kind: "unreadable", problem: "the model's reply has no choices[0].message", usage: callUsage };
    }
    return { kind: "reply", reply, usage: callUsage };
  }
}

// The content with a cache breakpoint on its last text part (the parts OpenRouter passes
// cache_control on); a text-only message becomes one text part to carry it.
function withBreakpoint(content: string | Record<string, unknown>[]): Record<string, unknown>[] {
  const parts = typeof content === "string" ? [{ type: "text", text: content }] : content;
  const last = parts.findLastIndex((part) => part.type === "text");
  return parts.map((part, index) => index === last ? { ...part, cache_control: EPHEMERAL } : part);
}
