// Models that are Python callables, run on the host like host functions: a call goes out as a
// model_call message and comes back as a model_result. It passes the run's request gate as an HTTP
// request does, so budgets, concurrency and usage apply the same. A callable that raises fails the
// call at once (it does its own retrying, if any); one that outlasts llm_timeout_s fails it too. The
// call's llm_kwargs (run, role and llm_query merged) are its keyword arguments.
import { type ChatMessage, openAiContent, redactedMessage } from "../chat_message.ts";
import { llmError, llmTimeoutError } from "../errors.ts";
import { type ModelResultMessage, sendToHost } from "../protocol.ts";
import { separateThinking } from "../reply_parts.ts";
import { UNREPORTED_USAGE } from "../usage.ts";
import { redactedParameters } from "./call_parameters.ts";
import type { AttemptHooks, CallParameters, Completion, ModelClient } from "./client.ts";

export type HostModelOptions = {
  timeoutSeconds: number;
  redact: (text: string) => string;
};

export class HostModelClient implements ModelClient {
  private nextCallId = 0;
  private readonly pending = new Map<number, (result: ModelResultMessage) => void>();

  constructor(private readonly options: HostModelOptions) {}

  async complete(
    model: string,
    messages: ChatMessage[],
    parameters: CallParameters,
    runSignal: AbortSignal,
    hooks: AttemptHooks,
  ): Promise<Completion> {
    const pass = await hooks.enter();
    const callId = ++this.nextCallId;
    const answered = new Promise<ModelResultMessage>((resolve) => this.pending.set(callId, resolve));
    sendToHost({
      type: "model_call",
      call_id: callId,
      model,
      messages: messages.map((message) => ({
        role: message.role,
        content: openAiContent(redactedMessage(message, this.options.redact)),
      })),
      llm_kwargs: redactedParameters(parameters, this.options.redact),
    });
    let result: ModelResultMessage;
    try {
      result = await this.untilAnswered(answered, runSignal);
    } catch (error) {
      this.pending.delete(callId);
      pass.leave({ kind: "lost" });
      throw error;
    }
    if (!result.ok) {
      pass.leave({ kind: "refused" });
      const raised = result.error ?? { type: "Exception", message: "" };
      throw llmError(`the Python model ${model} raised ${raised.type}: ${raised.message}`);
    }
    pass.leave({ kind: "answered", usage: result.usage ?? null });
    // A Python model's <think> blocks are reasoning too, kept apart as for any other model.
    const reply = { ...separateThinking(result.content ?? ""), finishReason: null };
    return { reply, usage: result.usage ?? UNREPORTED_USAGE, attempts: 1 };
  }

  settle(result: ModelResultMessage): void {
    const resolve = this.pending.get(result.call_id);
    if (resolve === undefined) return;
    this.pending.delete(result.call_id);
    resolve(result);
  }

  private untilAnswered(
    answered: Promise<ModelResultMessage>,
    runSignal: AbortSignal,
  ): Promise<ModelResultMessage> {
    const seconds = this.options.timeoutSeconds;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort = () => {};
    const givenUp = new Promise<never>((_, reject) => {
      if (runSignal.aborted) return reject(runSignal.reason);
      onAbort = () => reject(runSignal.reason);
      runSignal.addEventListener("abort", onAbort, { once: true });
      timer = setTimeout(
        () => reject(llmTimeoutError(`the Python model did not answer within llm_timeout_s=${seconds}s`)),
        seconds * 1000,
      );
    });
    return Promise.race([answered, givenUp]).finally(() => {
      clearTimeout(timer);
      runSignal.removeEventListener("abort", onAbort);
    });
  }
}
