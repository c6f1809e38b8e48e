import type { Adapter, ConnectOptions, ServerOptions } from '@socketlab/contract';
import { describe } from 'vitest';
import type { GroupContext } from './group.js';
import { useHarness } from './harness.js';
import { attach } from './sections/attach.js';
import { compressedMessages } from './sections/compression.js';
import { originAllowlist, subprotocol } from './sections/handshake.js';
import { heartbeat, maxMessageSize, serverErrors, shutdown, slowConsumer } from './sections/limits.js';
import { badRequests, binaryMessages, broadcast, concurrency, echo, ordering, presence } from './sections/messages.js';
import { busDelivery } from './sections/scale-out.js';
import { tlsServing } from './sections/tls.js';
import { testTls } from './tls.js';
import { compressionDeclinedOnTheWire, compressionOnTheWire } from './wire/compression.js';
import { framesOnTheWire } from './wire/frames.js';
import { handshakeOnTheWire } from './wire/handshake.js';

export interface ConformanceOptions {
  /** The adapter whose client drives the server; default the adapter itself (the interop matrix passes another). */
  client?: Adapter;
  /** Merged into every connect (socket.io: `{ transport: 'polling' }`). */
  connect?: ConnectOptions;
  /** Merged under the options of every server a case starts (the interop matrix: `perMessageDeflate`). */
  server?: ServerOptions;
  /** Shown in the suite's name. */
  label?: string;
  /** `client`: only the groups that go through a client, not the raw-wire ones (interop pairs). */
  groups?: 'all' | 'client';
  /** `false`: leave out the TLS group (a selection of the suite again over wss:// / https://). */
  tls?: boolean;
}

/**
 * Declares every clause of CONTRACT.md sections 1-5 as vitest cases against `adapter`.
 * Each case starts its own server(s) on port 0. The groups live one file per section
 * (`sections/`) and per wire group (`wire/`); this only picks them, by
 * `adapter.capabilities` and `options`, never by name.
 */
export function describeConformance(adapter: Adapter, options: ConformanceOptions = {}): void {
  const clientAdapter = options.client ?? adapter;
  const caps = adapter.capabilities;
  const onTheWire = caps.websocketProtocol && options.groups !== 'client';
  const title = `conformance: ${adapter.name}${options.client ? ` server, ${clientAdapter.name} client` : ''}${options.label ? ` (${options.label})` : ''}`;

  describe(title, () => {
    const context: GroupContext = {
      h: useHarness(adapter, clientAdapter, options.connect ?? {}, options.server ?? {}),
      capabilities: caps,
    };
    // Section 1 (and 2): messages.
    presence(context);
    echo(context);
    if (caps.binaryMessages) binaryMessages(context);
    broadcast(context);
    ordering(context);
    badRequests(context);
    concurrency(context);
    // Section 3: handshake and security.
    originAllowlist(context);
    if (caps.websocketProtocol) subprotocol(context);
    if (options.groups !== 'client') attach(context);
    compressedMessages(context);
    // Section 4: limits and failure.
    maxMessageSize(context);
    slowConsumer(context);
    heartbeat(context);
    shutdown(context);
    serverErrors(context);
    // Section 5: scale-out.
    busDelivery(context);
    // Sections 3 and 4 as raw bytes, independent of any client.
    if (onTheWire) handshakeOnTheWire(context);
    if (onTheWire) framesOnTheWire(context);
    // Section 3's TLS clause: the TLS cases, then a selection of the clauses above again,
    // every server started with a test certificate and every client trusting its CA.
    if (options.tls !== false) {
      describe('over TLS (section 3)', () => {
        const { leaf } = testTls();
        const tls: GroupContext = {
          h: useHarness(
            adapter,
            clientAdapter,
            { ...options.connect, ca: leaf.ca },
            {
              tls: { cert: leaf.cert, key: leaf.key },
            },
          ),
          capabilities: caps,
        };
        tlsServing(tls);
        presence(tls);
        echo(tls);
        if (caps.binaryMessages) binaryMessages(tls);
        broadcast(tls);
        badRequests(tls);
        originAllowlist(tls);
        if (caps.websocketProtocol) subprotocol(tls);
        maxMessageSize(tls);
        shutdown(tls);
      });
    }
    if (onTheWire && caps.compression) compressionOnTheWire(context);
    if (onTheWire && !caps.compression) compressionDeclinedOnTheWire(context);
  });
}
