/**
 * The raw-TCP floor: the benchmark's reference that no protocol can beat. The same Room
 * (welcome/join/leave, echo, broadcast with its result, the slow-consumer limit) as every
 * adapter, so the only difference left is the transport: one JSON message per line on a
 * bare node:net socket, with no handshake, no framing and no masking. Its own process,
 * started like every server app (same flags, same ready line, same memory probe).
 */
import { createServer, type Socket } from 'node:net';
import { installMemoryProbe, parseServerArgs, usage } from '@socketlab/cli';
import { CloseReason, encodeServerText, Room, type RoomTransport } from '@socketlab/contract';
import { LineSplitter } from '../../src/lines.js';

const spec = { name: 'floor-server', defaultPort: 0 };
let parsed: ReturnType<typeof parseServerArgs>;
try {
  parsed = parseServerArgs(spec, process.argv.slice(2));
} catch (error) {
  process.stderr.write(`floor-server: ${(error as Error).message}\n\n${usage(spec)}`);
  process.exit(2);
}
const { options } = parsed;
const maxLine = options.maxPayload ?? 1024 * 1024;

const transport: RoomTransport<Socket> = {
  send: (socket, message) => socket.write(`${encodeServerText(message)}\n`),
  sendToMany: (sockets, message) => {
    const line = Buffer.from(`${encodeServerText(message)}\n`);
    for (const socket of sockets) socket.write(line);
  },
  // No binary messages on a line protocol; never called by the benchmark.
  sendBinary: (socket) => socket.destroy(),
  bufferedAmount: (socket) => socket.writableLength,
  dropSlowConsumer: (socket) => socket.destroy(new Error(CloseReason.slowConsumer)),
};
const room = new Room(transport, { outboundLimit: options.outboundLimit });

const server = createServer({ noDelay: true }, (socket) => {
  socket.setNoDelay(true);
  const lines = new LineSplitter((line) => room.receiveText(socket, line), maxLine);
  socket.on('data', (chunk: Buffer) => {
    if (!lines.push(chunk)) socket.destroy();
  });
  socket.on('error', () => {});
  socket.on('close', () => room.remove(socket));
  room.add(socket);
});

server.listen(options.port, options.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  process.stdout.write(`floor-server (raw-tcp) listening on tcp://${options.host}:${port}\n`);
});
installMemoryProbe();
const stop = (): void => {
  for (const socket of room.connections()) socket.destroy();
  server.close(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
