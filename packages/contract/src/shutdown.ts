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
