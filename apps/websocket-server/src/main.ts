import { runServerApp } from '@socketlab/cli';
import { adapter, WEBSOCKET_ADAPTER_DEFAULTS } from '@socketlab/websocket';

await runServerApp({ name: 'websocket-server', adapter, defaultPort: 8080, defaults: WEBSOCKET_ADAPTER_DEFAULTS });
