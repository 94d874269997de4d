// OpenAI-compatible chat-completions client: one request at a time per call, retried with backoff
// on 429, 5xx and connection failures (honouring Retry-After), never on auth errors. A timed-out
// request is aborted before the retry starts, so a call never has two paid requests in flight.
import type { CallUsage } from "./usage.ts";
import {
  EngineError,
  llmAuthError,
  llmError,
  llmRateLimitError,
  llmTimeoutError,
  llmUnreachableError,
} from "./errors.ts";

export type ChatMessage = { role: "system" | "user" | "assistant"; content: string };

export type Completion = { text: string; usage: CallUsage; attempts: number };

export type RetryNotice = { attempt: number; reason: string; waitSeconds: number };

export type LlmClientOptions = {
  baseUrl: string;
  apiKey: string;
  timeoutSeconds: number;
  maxRetries: number;
  // Applied to every string of a request: agent code can put an env_variables value into a child's
  // instruction, data, schema or model name, and none may reach the endpoint.
  redact: (text: string) => string;
};

const BACKOFF_BASE_S = 0.5;
const BACKOFF_CAP_S = 30;

class RetryableFailure extends Error {
  constructor(
    readonly reason: string,
    readonly retryAfterSeconds: number | null,
    readonly final: EngineError,
  ) {
    super(reason);
  }
}

export class LlmClient {
  private endpoint: string;

  constructor(private options: LlmClientOptions) {
    this.endpoint = options.baseUrl.replace(/\/+$/, "") + "/chat/completions";
  }

  async complete(
    model: string,
    messages: ChatMessage[],
    runSignal: AbortSignal,
    onRetry: (notice: RetryNotice) => void,
  ): Promise<Completion> {
    for (let attempt = 1;; attempt++) {
      try {
        return { ...(await this.requestOnce(model, messages, runSignal)), attempts: attempt };
      } catch (error) {
        if (!(error instanceof RetryableFailure)) throw error;
        if (attempt > this.options.maxRetries) throw error.final;
        const backoff = Math.min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)) *
          (0.75 + Math.random() / 2);
        const waitSeconds = error.retryAfterSeconds ?? backoff;
        onRetry({ attempt, reason: error.reason, waitSeconds });
        await abortableSleep(waitSeconds * 1000, runSignal);
      }
    }
  }

  private async requestOnce(
    model: string,
    messages: ChatMessage[],
    runSignal: AbortSignal,
  ): Promise<{ text: string; usage: CallUsage }> {
    const timeoutSignal = AbortSignal.timeout(this.options.timeoutSeconds * 1000);
    const redact = this.options.redact;
    const body = {
      model: redact(model),
      messages: messages.map((message) => ({ role: message.role, content: redact(message.content) })),
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
        throw new RetryableFailure("timeout", null, llmTimeoutError(message));
      }
      const message = `cannot reach ${this.endpoint}: ${error}. Check base_url / RLM_MODEL_BASE_URL.`;
      throw new RetryableFailure("connection failed", null, llmUnreachableError(message));
    }
    const text = await readBody(response, runSignal, timeoutSignal, this.options.timeoutSeconds);
    if (response.ok) return parseCompletion(text);
    const detail = `HTTP ${response.status} from ${this.endpoint}: ${text.slice(0, 500)}`;
    if (response.status === 401 || response.status === 403) {
      throw llmAuthError(`${detail}. Check the API key (RLM_MODEL_API_KEY or config api_key).`);
    }
    if (response.status === 429 || response.status >= 500) {
      const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
      const final = response.status === 429
        ? llmRateLimitError(
          `${detail}. The provider kept rate-limiting; lower max_concurrency or retry later.`,
        )
        : llmError(detail);
      throw new RetryableFailure(`HTTP ${response.status}`, retryAfter, final);
    }
    throw llmError(detail);
  }
}

async function readBody(
  response: Response,
  runSignal: AbortSignal,
  timeoutSignal: AbortSignal,
  timeoutSeconds: number,
): Promise<string> {
  try {
    return await response.text();
  } catch (error) {
    if (runSignal.aborted) throw runSignal.reason;
    const message = timeoutSignal.aborted
      ? `the model's reply did not finish within llm_timeout_s=${timeoutSeconds}s`
      : `the connection broke while reading the model's reply: ${error}`;
    const final = timeoutSignal.aborted ? llmTimeoutError(message) : llmUnreachableError(message);
    throw new RetryableFailure(timeoutSignal.aborted ? "timeout" : "connection reset", null, final);
  }
}

function parseCompletion(text: string): { text: string; usage: CallUsage } {
  let payload: any;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new RetryableFailure(
      "invalid JSON body",
      null,
      llmError(`the model replied with non-JSON: ${text.slice(0, 200)}`),
    );
  }
  const content = payload?.choices?.[0]?.message?.content;
  if (typeof content !== "string") {
    const message = `the model's reply has no choices[0].message.content: ${text.slice(0, 300)}`;
    throw new RetryableFailure("reply without content", null, llmError(message));
  }
  const usage = payload.usage ?? {};
  return {
    text: content,
    usage: {
      prompt_tokens: Number(usage.prompt_tokens ?? 0),
      completion_tokens: Number(usage.completion_tokens ?? 0),
      cost: typeof usage.cost === "number" ? usage.cost : null,
    },
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
