// Host functions: Python functions the user registered, run in the host process. A call travels to
// the host as a host_call message and comes back as a host_result; arguments and results are JSON.
import { EngineError, HostFunctionRaised } from "./errors.ts";
import type { HostResultMessage } from "./protocol.ts";
import { sendToHost } from "./protocol.ts";

type PendingCall = { resolve: (value: unknown) => void; reject: (error: Error) => void };

export class HostFunctionBridge {
  private nextCallId = 0;
  private pending = new Map<number, PendingCall>();

  constructor(private names: Set<string>) {}

  call(name: string, args: unknown[], kwargs: Record<string, unknown>): Promise<unknown> {
    if (!this.names.has(name)) {
      return Promise.reject(
        new EngineError("HostFunctionError", `no host function named ${JSON.stringify(name)}`),
      );
    }
    const callId = ++this.nextCallId;
    return new Promise((resolve, reject) => {
      this.pending.set(callId, { resolve, reject });
      sendToHost({ type: "host_call", call_id: callId, name, args, kwargs });
    });
  }

  settle(result: HostResultMessage): void {
    const call = this.pending.get(result.call_id);
    if (!call) return;
    this.pending.delete(result.call_id);
    if (result.ok) call.resolve(result.value);
    else {call.reject(
        new HostFunctionRaised(result.error?.type ?? "HostFunctionError", result.error?.message ?? ""),
      );}
  }
}
