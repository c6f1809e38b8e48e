import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DeliveredEvent, LoadReply, LoadRequest } from './protocol.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

/** One forked load-generator process and its request/reply channel. */
export class LoadProcess {
  private readonly child: ChildProcess;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private readonly exited: Promise<number | null>;
  onDelivered: ((event: DeliveredEvent) => void) | undefined;

  constructor(readonly index: number) {
    this.child = fork(WORKER, [], {
      execArgv: ['--import', 'tsx', '--conditions=source', '--max-old-space-size=4096'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: LoadReply | DeliveredEvent) => {
      if ('event' in message) {
        this.onDelivered?.(message);
        return;
      }
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`load process ${index}: ${message.error}`));
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        for (const waiter of this.waiting.values()) waiter.reject(new Error(`load process ${index} exited (${code})`));
        this.waiting.clear();
        resolve(code);
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  request<T>(request: LoadRequest, timeoutMs = 300_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`load process ${this.index}: ${request.op} took more than ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send({ id, request });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

/** Several load processes; `all` sends one request to each, `spread` splits a count. */
export class LoadPool {
  readonly processes: LoadProcess[];
  constructor(size: number) {
    this.processes = Array.from({ length: size }, (_, index) => new LoadProcess(index));
  }
  get first(): LoadProcess {
    return this.processes[0]!;
  }
  all<T>(request: LoadRequest, timeoutMs?: number): Promise<T[]> {
    return Promise.all(this.processes.map((process) => process.request<T>(request, timeoutMs)));
  }
  /** Splits `count` over the processes as evenly as possible. */
  split(count: number): number[] {
    const size = this.processes.length;
    return this.processes.map((_, index) => Math.floor(count / size) + (index < count % size ? 1 : 0));
  }
  async stop(): Promise<void> {
    await Promise.all(this.processes.map((process) => process.stop()));
  }
}
