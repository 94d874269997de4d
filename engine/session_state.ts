// A session: the root's REPL namespace carried from one query (one engine run) to the next. The host
// (fast_rlm/sessions/store.py) sends the last saved state and the earlier queries in the start
// message; the root restores them (engine/repl/session_state.py) and, after each of its steps,
// the namespace goes back to the host as a SessionStateMessage, which writes it to the session dir.
import { sendToHost } from "./protocol.ts";

// An earlier query of the session, compacted by the host: previews, and the root's code if kept.
export type EarlierQuery = {
  query: string; // a preview
  final: string | null; // a preview of its FINAL value; null when it did not finish
  status: "done" | "failed" | "interrupted";
  steps: number;
  code: string[]; // the root's code blocks, when add_session_code_to_context is on
};

// The state as the REPL saved it: names of what it holds (the values stay opaque here).
export type SavedState = {
  version: number;
  variables: Record<string, { type: string; preview: string; pickle: string }>;
  functions: Record<string, string>;
  modules: Record<string, string>;
  dropped: Record<string, string>;
};

export type SessionStart = {
  state: SavedState | null;
  earlier: EarlierQuery[];
  history: unknown[]; // the full history, for the REPL variable session_history
};

export type SessionStateMessage = { type: "session_state"; step: number; state: unknown };

// What the root's REPL installer gets under the setup key "session".
export function sessionSetup(session: SessionStart, maxValueBytes: number): Record<string, unknown> {
  return { state: session.state, history: session.history, max_bytes: maxValueBytes };
}

export function sendSessionState(step: number, state: unknown): void {
  sendToHost({ type: "session_state", step, state });
}

const CODE_CHARS_SHOWN = 1500;

// Appended to the root's first message: what came before in this session and what the REPL holds.
export function sessionNotice(session: SessionStart): string {
  const lines = ["This is a session: your REPL keeps its state across queries."];
  if (session.earlier.length > 0) {
    lines.push("Earlier queries (newest last; full records in the REPL variable `session_history`):");
    session.earlier.forEach((earlier, index) => {
      const outcome = earlier.status === "done"
        ? `FINAL: ${earlier.final}`
        : earlier.status === "interrupted"
        ? `interrupted after ${earlier.steps} step(s); the REPL is as its last completed step left it`
        : `failed after ${earlier.steps} step(s)`;
      lines.push(`${index + 1}. ${earlier.query}\n   ${outcome}`);
      for (const code of earlier.code) {
        const shown = code.length > CODE_CHARS_SHOWN ? `${code.slice(0, CODE_CHARS_SHOWN)}\n# ...` : code;
        lines.push("   ```repl\n" + shown.replace(/^/gm, "   ") + "\n   ```");
      }
    });
  }
  const state = session.state;
  if (state !== null) {
    const kept = [
      ...Object.entries(state.variables).map(([name, entry]) => `${name} (${entry.type})`),
      ...Object.keys(state.functions).map((name) => `${name} (defined in the REPL)`),
      ...Object.entries(state.modules).map(([name, module]) => `${name} (module ${module})`),
    ];
    if (kept.length > 0) lines.push(`Restored in your REPL: ${kept.join(", ")}.`);
    const dropped = Object.entries(state.dropped).map(([name, reason]) => `${name}: ${reason}`);
    if (dropped.length > 0) {
      lines.push(`Not kept from earlier queries (recompute if needed): ${dropped.join("; ")}.`);
    }
    lines.push("Anything that failed to restore is listed in the REPL variable `session_unrestored`.");
  }
  return lines.join("\n");
}
