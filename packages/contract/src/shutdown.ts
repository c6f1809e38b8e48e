/**
 * Graceful shutdown of CONTRACT.md section 4: ask every connection to close (1001), wait
 * for the closing handshakes at most `timeoutMs`, then terminate whatever is left.
 */
export async function closeAllGracefully<C>(
  conns: readonly C[],
  ops: { close(conn: C): void; terminate(conn: C): void; closed(conn: C): Promise<unknown> },
  timeoutMs: number,
): Promise<void> {
  if (conns.length === 0) return;
  const pending = new Set(conns);
  const all = Promise.all(
    conns.map(async (conn) => {
      await ops.closed(conn);
      pending.delete(conn);
    }),
  );
  for (const conn of conns) ops.close(conn);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([all, timeout]);
  clearTimeout(timer);
  for (const conn of pending) ops.terminate(conn);
  await all;
}

/** What `shutdownWebSocketServer` needs of a server's own sockets. */
interface Destroyable {
  destroy(): void;
}

/**
 * The shutdown every WebSocket adapter does, in its order (`serve` has stopped the heartbeat):
 * stop listening, destroy the sockets still in their opening handshake, close every connection gracefully
 * (`closeAllGracefully`), destroy the upgraded sockets still lingering after their closing
 * handshake (they are no longer an http server's to close), close the http server's idle
 * keep-alive connections, and resolve once the server has stopped. Attached to the app's
 * server (`attached`), it only lets go of it (`detach`): the server and its other
 * connections are the app's and stay.
 */
export async function shutdownWebSocketServer<C>(parts: {
  server: { close(callback: () => void): unknown; closeAllConnections?(): void };
  handshaking: Iterable<Destroyable>;
  connections: readonly C[];
  close(conn: C): void;
  terminate(conn: C): void;
  closed(conn: C): Promise<unknown>;
  timeoutMs: number;
  lingering?: Iterable<Destroyable>;
  attached?: boolean;
  detach?: () => void;
}): Promise<void> {
  if (parts.attached) parts.detach?.();
  const stopped = parts.attached
    ? Promise.resolve()
    : new Promise<void>((resolve) => parts.server.close(() => resolve()));
  for (const socket of parts.handshaking) socket.destroy();
  await closeAllGracefully(parts.connections, parts, parts.timeoutMs);
  for (const socket of parts.lingering ?? []) socket.destroy();
  if (!parts.attached) parts.server.closeAllConnections?.();
  await stopped;
}
