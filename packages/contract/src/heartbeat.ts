/**
 * The heartbeat of CONTRACT.md section 4, shared by the adapters that drive pings
 * themselves: every interval each connection is pinged, and one that has not shown
 * a sign of life (a pong, or any message) since the previous tick is terminated.
 */
export class Heartbeat<C> {
  /** true: pinged at the last tick, no answer yet. */
  private readonly awaiting = new Map<C, boolean>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly probe: { ping(conn: C): void; terminate(conn: C): void },
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    // The heartbeat alone must never keep a process alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  track(conn: C): void {
    this.awaiting.set(conn, false);
  }

  untrack(conn: C): void {
    this.awaiting.delete(conn);
  }

  /** The peer answered or spoke: it lives until the next tick at least. */
  alive(conn: C): void {
    if (this.awaiting.has(conn)) this.awaiting.set(conn, false);
  }

  private tick(): void {
    for (const [conn, waiting] of this.awaiting) {
      if (waiting) {
        this.awaiting.delete(conn);
        this.probe.terminate(conn);
      } else {
        this.awaiting.set(conn, true);
        this.probe.ping(conn);
      }
    }
  }
}
