import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeServerApp } from '@socketlab/conformance';
import { adapter } from '@socketlab/net';

describeServerApp(dirname(dirname(fileURLToPath(import.meta.url))), adapter);
