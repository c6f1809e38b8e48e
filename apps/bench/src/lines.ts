/**
 * Newline-delimited JSON framing on raw bytes, for the raw-TCP floor (server and client).
 * Works on Buffers and decodes each complete line once: a '\n' byte never occurs inside a
 * multi-byte UTF-8 sequence, so splitting on it before decoding is safe.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private partLength = 0;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** Feeds one chunk; returns false when an unfinished line is longer than allowed. */
  push(chunk: Buffer): boolean {
    let start = 0;
    let end = chunk.indexOf(10);
    if (end === -1) {
      this.parts.push(chunk);
      this.partLength += chunk.length;
      return this.partLength <= this.maxLineBytes;
    }
    if (this.partLength > 0) {
      // The first line continues what earlier chunks started.
      this.parts.push(chunk.subarray(0, end));
      const line = Buffer.concat(this.parts, this.partLength + end).toString('utf8');
      this.parts = [];
      this.partLength = 0;
      this.onLine(line);
      start = end + 1;
      end = chunk.indexOf(10, start);
    }
    while (end !== -1) {
      this.onLine(chunk.toString('utf8', start, end));
      start = end + 1;
      end = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      this.parts.push(chunk.subarray(start));
      this.partLength = chunk.length - start;
    }
    return this.partLength <= this.maxLineBytes;
  }
}
