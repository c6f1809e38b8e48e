import { describeConformance } from '@socketlab/conformance';
import { adapter as wsAdapter } from '@socketlab/ws';
import { adapter as netAdapter } from '../src/index.js';

// The hand-written client against the ws server, and the ws client against the hand-written server:
// every clause that goes through a client, in both directions.
describeConformance(wsAdapter, { client: netAdapter, label: 'interop', groups: 'client' });
describeConformance(netAdapter, { client: wsAdapter, label: 'interop', groups: 'client' });
