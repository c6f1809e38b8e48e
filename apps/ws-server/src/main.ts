import { runServerApp } from '@socketlab/cli';
import { adapter } from '@socketlab/ws';

await runServerApp(adapter);
