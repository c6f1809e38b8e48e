import { describeConformance } from '@socketlab/conformance';
import type { Adapter } from '@socketlab/contract';
import { adapter as net } from '@socketlab/net';
import { adapter as websocket } from '@socketlab/websocket';
import { adapter as ws } from '@socketlab/ws';

/**
 * The interop matrix: each WebSocket adapter's client against each one's server runs the
 * client-side part of the suite (the raw-wire groups do not depend on the client and run
 * once per adapter in its own package). A new WebSocket adapter is one more entry here.
 */
const websocketAdapters: Adapter[] = [net, ws, websocket];

for (const server of websocketAdapters) {
  for (const client of websocketAdapters) {
    describeConformance(server, { client, groups: 'client', label: 'interop' });
  }
}
