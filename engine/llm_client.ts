// OpenAI-compatible chat-completions client: one request at a time per call, retried with backoff
// on 429, 5xx and connection failures (honouring Retry-After), never on auth errors; a 200 whose body
// cannot be read is retried once. A timed-out request is aborted before the retry starts, so a call
// never has two paid requests in flight. Every attempt passes the caller's gate (a concurrency slot
// and the run's budgets) and leaves it with what it cost before any backoff starts.
import { type CallUsage, UNREPORTED_USAGE } from "./usage.ts";
import { type ChatMessage, messageImages, openAiContent } from "./chat_message.ts";
import { type ModelReply, replyFromChoice } from "./reply_parts.ts";
import {
  EngineError,
  llmAuthError,
  llmError,
  llmRateLimitError,
  llmTimeoutError,
  llmUnreachableError,
} from "./errors.ts";

export type Completion = { reply: ModelReply; usage: CallUsage; attempts: number };

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

export type LlmClientOptions = {
  baseUrl: string;
  apiKey: string;
  timeoutSeconds: number;
  maxRetries: number;
  requestParameters: Record<string, unknown>; // the user's llm_kwargs, in every request body
  // Applied to every string of a request: agent code can put an env_variables value into a child's
  // instruction, data, schema or model name, and none may reach the endpoint.
  redact: (text: string) => string;
};

const BACKOFF_BASE_S = 0.5;
const BACKOFF_CAP_S = 30;
// A 200 that cannot be read was most likely billed: one more try, not llm_max_retries.
const UNREADABLE_REPLY_RETRIES = 1;

type RetryAdvice = { reason: string; retryAfterSeconds: number | null; unreadableReply: boolean };

type AttemptResult =
  | { kind: "answered"; reply: ModelReply; cost: AttemptCost & { kind: "answered" } }
  | { kind: "failed"; cost: AttemptCost; error: EngineError; retry: RetryAdvice | null };

export class LlmClient {
  private endpoint: string;

  constructor(private options: LlmClientOptions) {
    this.endpoint = options.baseUrl.replace(/\/+$/, "") + "/chat/completions";
  }

  async complete(
    model: string,
    messages: ChatMessage[],
    runSignal: AbortSignal,
    hooks: AttemptHooks,
  ): Promise<Completion> {
    let unreadableReplies = 0;
    for (let attempt = 1;; attempt++) {
      const pass = await hooks.enter();
      let result: AttemptResult;
      try {
        result = await this.attempt(model, messages, runSignal);
      } catch (error) { // the run stopped while the request was out
        pass.leave({ kind: "lost" });
        throw error;
      }
      pass.leave(result.cost);
      if (result.kind === "answered") {
        return { reply: result.reply, usage: result.cost.usage ?? UNREPORTED_USAGE, attempts: attempt };
      }
      const retry = result.retry;
      if (retry === null || attempt > this.options.maxRetries) throw result.error;
      if (retry.unreadableReply && ++unreadableReplies > UNREADABLE_REPLY_RETRIES) throw result.error;
      const backoff = Math.min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)) *
        (0.75 + Math.random() / 2);
      const waitSeconds = retry.retryAfterSeconds ?? backoff;
      hooks.onRetry({ attempt, reason: retry.reason, waitSeconds });
      await abortableSleep(waitSeconds * 1000, runSignal);
    }
  }

  // One request. Throws only when the run stopped; every other outcome is returned.
  private async attempt(
    model: string,
    messages: ChatMessage[],
    runSignal: AbortSignal,
  ): Promise<AttemptResult> {
    const timeoutSignal = AbortSignal.timeout(this.options.timeoutSeconds * 1000);
    const redact = this.options.redact;
    const body = {
      ...this.options.requestParameters,
      model: redact(model),
      messages: messages.map((message) => ({ role: message.role, content: openAiContent(message, redact) })),
    };
    let response: Response;
    try {
      response = await fetch(this.endpoint, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.options.apiKey}` },
        body: JSON.stringify(body),
        signal: AbortSignal.any([runSignal, timeoutSignal]),
      });
    } catch (error) {
      if (runSignal.aborted) throw runSignal.reason;
      if (timeoutSignal.aborted) {
        const message = `the model did not answer within llm_timeout_s=${this.options.timeoutSeconds}s`;
        return lost(llmTimeoutError(message), "timeout");
      }
      const message = `cannot reach ${this.endpoint}: ${error}. Check base_url / RLM_MODEL_BASE_URL.`;
      return lost(llmUnreachableError(message), "connection failed");
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      if (runSignal.aborted) throw runSignal.reason;
      if (timeoutSignal.aborted) {
        const message =
          `the model's reply did not finish within llm_timeout_s=${this.options.timeoutSeconds}s`;
        return lost(llmTimeoutError(message), "timeout");
      }
      return lost(
        llmUnreachableError(`the connection broke while reading the model's reply: ${error}`),
        "connection reset",
      );
    }
    if (response.ok) return parseCompletion(text);
    const detail = `HTTP ${response.status} from ${this.endpoint}: ${text.slice(0, 500)}`;
    const refused = (error: EngineError, retry: RetryAdvice | null): AttemptResult => ({
      kind: "failed",
      cost: { kind: "refused" },
      error,
      retry,
    });
    if (response.status === 401 || response.status === 403) {
      return refused(
        llmAuthError(`${detail}. Check the API key (RLM_MODEL_API_KEY or config api_key).`),
        null,
      );
    }
    if (response.status === 429 || response.status >= 500) {
      const retryAfterSeconds = parseRetryAfter(response.headers.get("retry-after"));
      const error = response.status === 429
        ? llmRateLimitError(
          `${detail}. The provider kept rate-limiting; lower max_concurrency or retry later.`,
        )
        : llmError(detail);
      return refused(error, { reason: `HTTP ${response.status}`, retryAfterSeconds, unreadableReply: false });
    }
    if (response.status === 400 && /image/i.test(text) && messages.some((m) => messageImages(m).length > 0)) {
      return refused(
        llmError(
          `${detail}. The model ${model} refused the images it was sent: give this agent a model that ` +
            `accepts images (llm_query(..., model=...), an agent's model, or sub_agent).`,
        ),
        null,
      );
    }
    return refused(llmError(detail), null);
  }
}

function lost(error: EngineError, reason: string): AttemptResult {
  return {
    kind: "failed",
    cost: { kind: "lost" },
    error,
    retry: { reason, retryAfterSeconds: null, unreadableReply: false },
  };
}

function parseCompletion(text: string): AttemptResult {
  let payload: any;
  try {
    payload = JSON.parse(text);
  } catch {
    return {
      kind: "failed",
      cost: { kind: "lost" },
      error: llmError(`the model replied with non-JSON: ${text.slice(0, 200)}`),
      retry: { reason: "invalid JSON body", retryAfterSeconds: null, unreadableReply: true },
    };
  }
  const usage = payload?.usage;
  // A usage block without token counts says nothing: the budgets then count what was reserved.
  const hasCounts = typeof usage === "object" && usage !== null &&
    ("prompt_tokens" in usage || "completion_tokens" in usage);
  const cost: AttemptCost & { kind: "answered" } = {
    kind: "answered",
    usage: hasCounts
      ? {
        prompt_tokens: tokenCount(usage.prompt_tokens),
        completion_tokens: tokenCount(usage.completion_tokens),
        cached_tokens: tokenCount(usage.prompt_tokens_details?.cached_tokens),
        reasoning_tokens: tokenCount(usage.completion_tokens_details?.reasoning_tokens),
        cost: typeof usage.cost === "number" && Number.isFinite(usage.cost) ? usage.cost : null,
      }
      : null,
  };
  // An empty or null content is an answer (the agent tells the model so); no message is not.
  const reply = replyFromChoice(payload?.choices?.[0]);
  if (reply === null) {
    return {
      kind: "failed",
      cost,
      error: llmError(`the model's reply has no choices[0].message: ${text.slice(0, 300)}`),
      retry: { reason: "reply without a message", retryAfterSeconds: null, unreadableReply: true },
    };
  }
  return { kind: "answered", reply, cost };
}

// A count the budgets can add up: a missing or malformed figure counts 0.
function tokenCount(value: unknown): number {
  const count = Number(value ?? 0);
  return Number.isFinite(count) && count >= 0 ? count : 0;
}

function parseRetryAfter(header: string | null): number | null {
  if (header === null) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.min(seconds, BACKOFF_CAP_S * 4));
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

function abortableSleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, milliseconds);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
