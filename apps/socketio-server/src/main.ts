import { runServerApp } from '@socketlab/cli';
import { adapter, type SocketIoServer } from '@socketlab/socketio';

await runServerApp({
  name: 'socketio-server',
  adapter,
  defaultPort: 3000,
  // With --workers, every request of a long-polling session must reach the worker that holds it.
  stickySessions: (server) => server as SocketIoServer,
});
