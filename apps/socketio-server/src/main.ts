import { runServerApp } from '@socketlab/cli';
import { adapter } from '@socketlab/socketio';

await runServerApp({ name: 'socketio-server', adapter, defaultPort: 3000 });
