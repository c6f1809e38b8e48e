import { runServerApp } from '@socketlab/cli';
import { adapter } from '@socketlab/websocket';

await runServerApp(adapter);
