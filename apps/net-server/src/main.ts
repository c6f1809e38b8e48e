import { runServerApp } from '@socketlab/cli';
import { adapter } from '@socketlab/net';

await runServerApp(adapter);
