// Framing for the pipes between the engine and a REPL process. A frame is an 8-byte header (the
// JSON message's length and the payload's length, u32 big-endian), the JSON message, then raw
// payload bytes. Bulk data (a context, a step's outcome, a snapshot) travels as payload, never
// escaped inside JSON. Both sides cap what they accept: a frame over the cap means the other side
// is garbled, and the reader stops.

const HEADER_BYTES = 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type Frame<Message> = { message: Message; payload: Uint8Array };

export class FrameError extends Error {}

export function encodeFrame(message: unknown, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = encoder.encode(JSON.stringify(message));
  const frame = new Uint8Array(HEADER_BYTES + json.length + payload.length);
  const header = new DataView(frame.buffer);
  header.setUint32(0, json.length);
  header.setUint32(4, payload.length);
  frame.set(json, HEADER_BYTES);
  frame.set(payload, HEADER_BYTES + json.length);
  return frame;
}

// Reads frames from a byte stream. A message is taken from the chunks read so far; a payload is
// copied once, chunk by chunk, into a buffer of its own.
export class FrameReader<Message> {
  private reader: ReadableStreamDefaultReader<Uint8Array>;
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(stream: ReadableStream<Uint8Array>, private maxFrameBytes: number) {
    this.reader = stream.getReader();
  }

  // The next frame, or null when the stream ends cleanly between frames. Throws FrameError when
  // the stream breaks off mid-frame, a frame is over the cap, or its message is not JSON.
  async next(): Promise<Frame<Message> | null> {
    if (!(await this.fill(HEADER_BYTES))) {
      if (this.buffered === 0) return null;
      throw new FrameError("the stream ended inside a frame header");
    }
    const [jsonBytes, payloadBytes] = this.takeHeader();
    if (!(await this.fill(jsonBytes))) throw new FrameError("the stream ended inside a frame");
    const message = this.takeMessage(jsonBytes);
    return { message, payload: await this.readPayload(payloadBytes) };
  }

  // The next frame if it has arrived whole already, without waiting: whoever hands frames on can
  // pass all that one read brought in one go.
  nextBuffered(): Frame<Message> | null {
    if (this.buffered < HEADER_BYTES) return null;
    const header = new DataView(this.peek(HEADER_BYTES).buffer);
    if (this.buffered < HEADER_BYTES + header.getUint32(0) + header.getUint32(4)) return null;
    const [jsonBytes, payloadBytes] = this.takeHeader();
    const message = this.takeMessage(jsonBytes);
    return { message, payload: this.take(payloadBytes) };
  }

  private takeHeader(): [number, number] {
    const header = new DataView(this.take(HEADER_BYTES).buffer);
    const jsonBytes = header.getUint32(0);
    const payloadBytes = header.getUint32(4);
    if (jsonBytes + payloadBytes > this.maxFrameBytes) {
      throw new FrameError(
        `a frame of ${jsonBytes + payloadBytes} bytes is over the cap of ${this.maxFrameBytes}`,
      );
    }
    return [jsonBytes, payloadBytes];
  }

  private takeMessage(jsonBytes: number): Message {
    try {
      return JSON.parse(decoder.decode(this.take(jsonBytes)));
    } catch {
      throw new FrameError("a frame's message is not JSON");
    }
  }

  // The first `bytes` buffered bytes, left in the buffer.
  private peek(bytes: number): Uint8Array {
    const first = this.chunks[0];
    if (first.length >= bytes) return first.slice(0, bytes);
    const peeked = new Uint8Array(bytes);
    let filled = 0;
    for (const chunk of this.chunks) {
      const part = Math.min(bytes - filled, chunk.length);
      peeked.set(chunk.subarray(0, part), filled);
      filled += part;
      if (filled === bytes) break;
    }
    return peeked;
  }

  // The payload is copied into its own buffer as the chunks arrive, and each chunk is let go at once:
  // holding them all until the frame is complete, then joining them, doubled the memory a large
  // context took (a 500 MB context cost its REPL process 1 GB here, past repl_memory_mb).
  private async readPayload(bytes: number): Promise<Uint8Array> {
    if (this.buffered >= bytes) return this.take(bytes);
    const payload = new Uint8Array(bytes);
    let filled = this.buffered;
    payload.set(this.take(this.buffered));
    while (filled < bytes) {
      const { value, done } = await this.reader.read();
      if (done) throw new FrameError("the stream ended inside a frame");
      const part = Math.min(bytes - filled, value.length);
      payload.set(value.subarray(0, part), filled);
      filled += part;
      if (part < value.length) {
        this.chunks.push(value.subarray(part));
        this.buffered += value.length - part;
      }
    }
    return payload;
  }

  private async fill(bytes: number): Promise<boolean> {
    while (this.buffered < bytes) {
      const { value, done } = await this.reader.read();
      if (done) return false;
      this.chunks.push(value);
      this.buffered += value.length;
    }
    return true;
  }

  private take(bytes: number): Uint8Array {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= bytes) {
      // The common case: the bytes lie within one chunk. Copied, so the frame owns its buffer.
      const taken = first.slice(0, bytes);
      if (first.length === bytes) this.chunks.shift();
      else this.chunks[0] = first.subarray(bytes);
      this.buffered -= bytes;
      return taken;
    }
    const taken = new Uint8Array(bytes);
    let filled = 0;
    while (filled < bytes) {
      const chunk = this.chunks[0];
      const part = Math.min(bytes - filled, chunk.length);
      taken.set(chunk.subarray(0, part), filled);
      filled += part;
      if (part === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part);
    }
    this.buffered -= bytes;
    return taken;
  }
}

// Writes frames in order, coalescing those queued in the same turn of the event loop into one
// write: a fan-out of a thousand children is a thousand small frames.
export class FrameWriter {
  private queued: Uint8Array[] = [];
  private flushing: Promise<void> | null = null;
  private broken = false;

  constructor(private writer: WritableStreamDefaultWriter<Uint8Array>) {}

  send(message: unknown, payload?: Uint8Array): void {
    if (this.broken) return;
    this.queued.push(encodeFrame(message, payload));
    this.flushing ??= Promise.resolve().then(() => this.flush());
  }

  private async flush(): Promise<void> {
    while (this.queued.length > 0 && !this.broken) {
      const batch = this.queued;
      this.queued = [];
      const bytes = batch.length === 1 ? batch[0] : joined(batch);
      try {
        await this.writer.write(bytes);
      } catch {
        this.broken = true; // the other side is gone; whoever watches its exit reports why
      }
    }
    this.flushing = null;
  }
}

function joined(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const whole = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}
