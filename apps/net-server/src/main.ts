import { runServerApp } from '@socketlab/cli';
import { adapter } from '@socketlab/net';

await runServerApp({ name: 'net-server', adapter, defaultPort: 9000 });
