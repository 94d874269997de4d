// Replaces secrets (the API key, env_variables values) wherever text leaves the engine: log lines,
// and observations shown to the model. No code path hands a secret over on purpose; agent code that
// prints one must still not get it into a prompt or onto the disk.
const REDACTED = "[redacted]";
// Shorter values would redact ordinary words and numbers.
export const MIN_SECRET_LENGTH = 6;

export class Redactor {
  private secrets: string[];

  constructor(secrets: string[]) {
    // Longest first, so a secret containing another is replaced whole.
    this.secrets = secrets.filter((secret) => secret.length >= MIN_SECRET_LENGTH).sort((a, b) =>
      b.length - a.length
    );
  }

  // The start of `text`, `length` characters, redacted before it is cut: a secret the cut would
  // split is replaced whole, so no piece of it remains.
  redactedStart(text: string, length: number): string {
    return this.redact(text.slice(0, length + this.longestForm)).slice(0, length);
  }

  // The longest way a secret can appear: as written, or escaped inside JSON.
  private get longestForm(): number {
    return Math.max(0, ...this.secrets.map((secret) => JSON.stringify(secret).length));
  }

  redact(text: string): string {
    for (const secret of this.secrets) {
      if (text.includes(secret)) text = text.replaceAll(secret, REDACTED);
      const escaped = JSON.stringify(secret).slice(1, -1);
      if (escaped !== secret && text.includes(escaped)) text = text.replaceAll(escaped, REDACTED);
    }
    return text;
  }
}
