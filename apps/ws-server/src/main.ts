import { runServerApp } from '@socketlab/cli';
import { adapter } from '@socketlab/ws';

await runServerApp({ name: 'ws-server', adapter, defaultPort: 6080 });
