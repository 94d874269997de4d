// The replies of an earlier run's log, served again in place of the model (run(replay=LOG),
// fast_rlm.resume, fast_rlm.fork). A call is keyed by agent id (deterministic: root, root.0,
// root.0.1, ...) and its call number, and a recorded reply is given only when the request's new
// messages are the recorded ones: the earlier messages were checked at the agent's earlier calls,
// and its earlier replies are the recorded ones, so the whole request is the one that was answered.
import type { LoggedMessage } from "./chat_message.ts";
import { EngineError } from "./errors.ts";
import type { ModelReply } from "./reply_parts.ts";
import type { CallUsage } from "./usage.ts";

export type RecordedCall = {
  new_messages: LoggedMessage[];
  completion: string;
  reasoning: string | null;
  finish_reason: string | null;
  usage: CallUsage;
};

// Fork: the agent whose calls after `after_call` go to the live model (the host left them out of
// `calls`), with `instruction` (if any) told to it as a user message after that call's observation.
export type ForkPoint = { agent_id: string; after_call: number; instruction: string | null };

// Sent by the host in the start message.
export type Recording = {
  log_file: string; // named in errors
  // replay: a call the recording cannot answer ends the run (ReplayMismatchError). resume and fork:
  // it goes to the live model, and so do that agent's later calls.
  strict: boolean;
  calls: Record<string, RecordedCall[]>; // by agent id; [0] is call 1
  fork: ForkPoint | null;
};

export const replayMismatchError = (message: string) => new EngineError("ReplayMismatchError", message);

export type RecordedAnswer = { reply: ModelReply; usage: CallUsage };

export class RecordedReplies {
  // Agents that had a call the recording could not answer: their conversation has left it.
  private readonly live = new Set<string>();

  constructor(private readonly recording: Recording) {}

  // The recorded answer to this call, or null when it must go to the live model (resume, fork).
  // `newMessagesJson` is the call's new messages as the log writes them (JSON, redacted). Throws a
  // ReplayMismatchError when the recording is strict and cannot answer.
  answer(agentId: string, call: number, stepsDone: number, newMessagesJson: string): RecordedAnswer | null {
    if (this.live.has(agentId)) return null;
    const recorded = this.recording.calls[agentId]?.[call - 1];
    const problem = recorded === undefined
      ? "the recording has no reply for it"
      : messagesDifference(JSON.parse(newMessagesJson), recorded.new_messages);
    if (problem === null) {
      return {
        reply: {
          text: recorded!.completion,
          reasoning: recorded!.reasoning,
          finishReason: recorded!.finish_reason,
        },
        usage: recorded!.usage,
      };
    }
    if (this.recording.strict) {
      throw replayMismatchError(
        `agent ${agentId}, model call ${call} (after its code step ${stepsDone}): ${problem}. The run ` +
          `no longer does what the recorded one did (${this.recording.log_file}): replay it with the same ` +
          "query, tools, agents and code version, or use fast_rlm.resume() to call the model from there.",
      );
    }
    this.live.add(agentId);
    return null;
  }

  // The instruction to add after this call of a fork's agent, if this is its fork point.
  forkInstruction(agentId: string, call: number): string | null {
    const fork = this.recording.fork;
    if (fork === null || fork.agent_id !== agentId || fork.after_call !== call) return null;
    return fork.instruction;
  }
}

// Where two message lists first differ, or null when they are the same.
function messagesDifference(now: LoggedMessage[], recorded: LoggedMessage[]): string | null {
  for (let index = 0; index < Math.max(now.length, recorded.length); index++) {
    const mine = now[index];
    const theirs = recorded[index];
    if (JSON.stringify(mine) === JSON.stringify(theirs)) continue;
    if (mine === undefined || theirs === undefined) {
      return `its request has ${now.length} new message(s), the recorded one ${recorded.length}`;
    }
    const at = firstDifference(mine.content, theirs.content);
    return `its new message ${index + 1} (${mine.role}) differs from the recorded one at character ${at}: ` +
      `now ${JSON.stringify(around(mine.content, at))}, recorded ${
        JSON.stringify(around(theirs.content, at))
      }`;
  }
  return null;
}

function firstDifference(a: string, b: string): number {
  let index = 0;
  while (index < a.length && index < b.length && a[index] === b[index]) index++;
  return index;
}

const SHOWN_AROUND = 60;

function around(text: string, at: number): string {
  const start = Math.max(0, at - SHOWN_AROUND);
  const end = Math.min(text.length, at + SHOWN_AROUND);
  return `${start > 0 ? "..." : ""}${text.slice(start, end)}${end < text.length ? "..." : ""}`;
}
