import { runServerApp } from '@socketlab/cli';
import { adapter } from '@socketlab/socketio';

await runServerApp(adapter);
