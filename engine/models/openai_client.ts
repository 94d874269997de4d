// The OpenAI-compatible chat-completions wire format (OpenRouter, OpenAI, vLLM, Ollama, ...). For
// OpenRouter's "anthropic/..." models the cache breakpoints travel as cache_control on text parts,
// which OpenRouter passes on to Anthropic; every other provider caches prefixes by itself.
import type { CallUsage } from "../usage.ts";
import { cacheBreakpoints, EPHEMERAL } from "./cache_breakpoints.ts";
import { bodyFields, EXTRA_BODY } from "./call_parameters.ts";
import type { CallParameters, ChatMessage, ModelProvider, ParsedReply, WireRequest } from "./client.ts";
import { tokenCount } from "./token_counts.ts";

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
        // The original fast-rlm sent extra_body as a field of its own, and gateways that read it
        // still find it there.
        ...(EXTRA_BODY in parameters ? { [EXTRA_BODY]: parameters[EXTRA_BODY] } : {}),
        model,
        messages: messages.map((message, index) => ({
          role: message.role,
          content: marked.has(index)
            ? [{ type: "text", text: message.content, cache_control: EPHEMERAL }]
            : message.content,
        })),
      },
    };
  }

  parseReply(payload: any): ParsedReply {
    const usage = payload?.usage;
    // A usage block without token counts says nothing: the budgets then count what was reserved.
    const hasCounts = typeof usage === "object" && usage !== null &&
      ("prompt_tokens" in usage || "completion_tokens" in usage);
    const callUsage: CallUsage | null = hasCounts
      ? {
        prompt_tokens: tokenCount(usage.prompt_tokens),
        completion_tokens: tokenCount(usage.completion_tokens),
        cached_tokens: tokenCount(usage.prompt_tokens_details?.cached_tokens),
        cache_write_tokens: tokenCount(usage.prompt_tokens_details?.cache_write_tokens),
        reasoning_tokens: tokenCount(usage.completion_tokens_details?.reasoning_tokens),
        cost: typeof usage.cost === "number" && Number.isFinite(usage.cost) ? usage.cost : null,
      }
      : null;
    const content = payload?.choices?.[0]?.message?.content;
    if (typeof content !== "string") {
      return {
        kind: "unreadable",
        problem: "the model's reply has no choices[0].message.content",
        usage: callUsage,
      };
    }
    return { kind: "text", text: content, usage: callUsage };
  }
}
