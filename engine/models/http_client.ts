// Sends a model call to one provider: one request at a time per call, retried with backoff on 429,
// 5xx and connection failures (honouring Retry-After), never on auth errors; a 200 whose body cannot
// be read is retried once. A timed-out request is aborted before the retry starts, so a call never
// has two paid requests in flight. Every attempt passes the caller's gate (a concurrency slot and the
// run's budgets) and leaves it with what it cost before any backoff starts.
import { type ChatMessage, messageImages, redactedMessage } from "../chat_message.ts";
import type { ModelReply } from "../reply_parts.ts";
import { UNREPORTED_USAGE } from "../usage.ts";
import { redactedParameters } from "./call_parameters.ts";
import {
  EngineError,
  llmAuthError,
  llmError,
  llmRateLimitError,
  llmTimeoutError,
  llmUnreachableError,
} from "../errors.ts";
import type {
  AttemptCost,
  AttemptHooks,
  CallParameters,
  Completion,
  ModelClient,
  ModelProvider,
  ParsedReply,
} from "./client.ts";

export type HttpClientOptions = {
  timeoutSeconds: number;
  maxRetries: number;
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

export class HttpModelClient implements ModelClient {
  constructor(private readonly provider: ModelProvider, private readonly options: HttpClientOptions) {}

  async complete(
    model: string,
    messages: ChatMessage[],
    parameters: CallParameters,
    runSignal: AbortSignal,
    hooks: AttemptHooks,
  ): Promise<Completion> {
    const redact = this.options.redact;
    // Built once: a provider that cannot take these parameters fails the call before anything is sent.
    const request = this.provider.request(
      redact(model),
      messages.map((message) => redactedMessage(message, redact)),
      redactedParameters(parameters, redact),
    );
    const body = JSON.stringify(request.body);
    // What a refusal of images names (the model as sent, redacted).
    const images = {
      model: redact(model),
      sent: messages.some((message) => messageImages(message).length > 0),
    };
    let unreadableReplies = 0;
    for (let attempt = 1;; attempt++) {
      const pass = await hooks.enter();
      let result: AttemptResult;
      try {
        result = await this.attempt(request.url, request.headers, body, images, runSignal);
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
    url: string,
    headers: Record<string, string>,
    body: string,
    images: { model: string; sent: boolean },
    runSignal: AbortSignal,
  ): Promise<AttemptResult> {
    const timeoutSignal = AbortSignal.timeout(this.options.timeoutSeconds * 1000);
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.any([runSignal, timeoutSignal]),
      });
    } catch (error) {
      if (runSignal.aborted) throw runSignal.reason;
      if (timeoutSignal.aborted) {
        const message = `the model did not answer within llm_timeout_s=${this.options.timeoutSeconds}s`;
        return lost(llmTimeoutError(message), "timeout");
      }
      const message = `cannot reach ${url}: ${error}. ${this.provider.urlHint}`;
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
    if (response.ok) return this.readReply(text);
    const detail = `HTTP ${response.status} from ${url}: ${text.slice(0, 500)}`;
    const refused = (error: EngineError, retry: RetryAdvice | null): AttemptResult => ({
      kind: "failed",
      cost: { kind: "refused" },
      error,
      retry,
    });
    if (response.status === 401 || response.status === 403) {
      return refused(
        llmAuthError(`${detail}. ${this.provider.keyHint}`),
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
    // A model that takes no images answers 400 naming them; retrying would not change its mind.
    if (response.status === 400 && images.sent && /image/i.test(text)) {
      return refused(
        llmError(
          `${detail}. The model ${images.model} refused the images it was sent: give this agent a model that ` +
            `accepts images (llm_query(..., model=...), an agent's model, or sub_agent).`,
        ),
        null,
      );
    }
    return refused(llmError(detail), null);
  }

  private readReply(text: string): AttemptResult {
    let payload: unknown;
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
    const reply: ParsedReply = this.provider.parseReply(payload);
    const cost = { kind: "answered" as const, usage: reply.usage };
    if (reply.kind === "reply") return { kind: "answered", reply: reply.reply, cost };
    return {
      kind: "failed",
      cost,
      error: llmError(`${reply.problem}: ${text.slice(0, 300)}`),
      retry: { reason: "reply without a message", retryAfterSeconds: null, unreadableReply: true },
    };
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
