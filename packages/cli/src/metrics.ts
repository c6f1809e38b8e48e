import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { isIP } from 'node:net';
import type { HttpEndpoints, PlainAnswer, PlainRequest, ServerObserver } from '@socketlab/contract';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What the app's health and metrics read at request time. */
export interface MetricsSources {
  adapter: string;
  connections(): number;
  /** The Redis bus, when the app has one. */
  bus?: { readonly connected: boolean; readonly dropped: number } | undefined;
  /** True once the app is shutting down: /healthz answers 503. */
  stopping(): boolean;
}

/** Broadcast fan-out in seconds: a few microseconds (one member) to a fraction of a second (thousands). */
const FANOUT_BUCKETS = [0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1];

/**
 * One app's Prometheus registry and the observer that feeds it. The contract knows nothing
 * of prom-client: the adapters call the observer (see ServerObserver), and this turns the
 * calls into counters. Gauges (connections, bus up, bus drops) are read at scrape time.
 */
export function createAppMetrics(
  sources: MetricsSources,
  labels: Record<string, string> = {},
  /** Under --workers: what /metrics answers instead of this registry alone (every worker's). */
  clusterMetrics?: (registry: Registry) => () => Promise<string>,
) {
  const registry = new Registry();
  const collect = clusterMetrics ? clusterMetrics(registry) : () => registry.metrics();
  registry.setDefaultLabels({ adapter: sources.adapter, ...labels });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  new Gauge({
    name: 'socketlab_connections',
    help: 'Connections open now (members of the room in this process).',
    registers,
    collect() {
      this.set(sources.connections());
    },
  });
  const opened = new Counter({
    name: 'socketlab_connections_opened_total',
    help: 'Connections that completed their handshake and joined.',
    registers,
  });
  const closed = new Counter({
    name: 'socketlab_connections_closed_total',
    help: "Connections closed, by close code (WebSocket) or socket.io's disconnect reason.",
    labelNames: ['reason'],
    registers,
  });
  const messagesIn = new Counter({
    name: 'socketlab_messages_in_total',
    help: 'Client messages received, by type (echo, broadcast, binary, invalid).',
    labelNames: ['kind'],
    registers,
  });
  const messagesOut = new Counter({
    name: 'socketlab_messages_out_total',
    help: 'Server messages sent, by type; a fan-out counts every copy.',
    labelNames: ['kind'],
    registers,
  });
  const bytesIn = new Counter({
    name: 'socketlab_bytes_in_total',
    help: 'Bytes of messages received, by wire kind (text, binary).',
    labelNames: ['kind'],
    registers,
  });
  const bytesOut = new Counter({
    name: 'socketlab_bytes_out_total',
    help: 'Bytes of messages sent, by wire kind (text, binary); a fan-out counts every copy.',
    labelNames: ['kind'],
    registers,
  });
  const badRequests = new Counter({
    name: 'socketlab_bad_requests_total',
    help: 'Client messages answered with a bad_request error.',
    registers,
  });
  const refused = new Counter({
    name: 'socketlab_handshakes_refused_total',
    help: 'Handshakes (and plain requests) refused, by reason (origin, version, protocol, timeout, ...).',
    labelNames: ['reason'],
    registers,
  });
  const slowDrops = new Counter({
    name: 'socketlab_slow_consumer_drops_total',
    help: 'Connections dropped for holding more than the outbound limit unsent.',
    registers,
  });
  const heartbeatTimeouts = new Counter({
    name: 'socketlab_heartbeat_timeouts_total',
    help: 'Connections terminated for not answering the heartbeat.',
    registers,
  });
  const fanout = new Histogram({
    name: 'socketlab_broadcast_fanout_seconds',
    help: 'Time to hand one broadcast to every member in this process (local and from the bus).',
    buckets: FANOUT_BUCKETS,
    registers,
  });
  let busPublished: Counter | undefined;
  let busReceived: Counter | undefined;
  const { bus } = sources;
  if (bus) {
    busPublished = new Counter({
      name: 'socketlab_bus_events_published_total',
      help: 'Room events published on the bus, by kind (broadcast, join, leave).',
      labelNames: ['kind'],
      registers,
    });
    busReceived = new Counter({
      name: 'socketlab_bus_events_received_total',
      help: 'Room events of other processes received from the bus, by kind.',
      labelNames: ['kind'],
      registers,
    });
    new Counter({
      name: 'socketlab_bus_events_dropped_total',
      help: 'Events not sent because Redis was unreachable when they were published.',
      registers,
      collect() {
        this.reset();
        this.inc(bus.dropped);
      },
    });
    new Gauge({
      name: 'socketlab_bus_up',
      help: '1 while both bus connections to Redis are up, 0 during an outage.',
      registers,
      collect() {
        this.set(bus.connected ? 1 : 0);
      },
    });
  }

  const observer: ServerObserver = {
    connectionOpened: () => opened.inc(),
    connectionClosed: (closing) => closed.inc({ reason: String(closing.code) }),
    messageIn: (kind) => messagesIn.inc({ kind }),
    messageOut: (kind, count) => messagesOut.inc({ kind }, count),
    bytesIn: (kind, bytes) => bytesIn.inc({ kind }, bytes),
    bytesOut: (kind, bytes) => bytesOut.inc({ kind }, bytes),
    badRequest: () => badRequests.inc(),
    handshakeRefused: (refusal) => refused.inc({ reason: refusal.reason }),
    slowConsumerDropped: () => slowDrops.inc(),
    heartbeatTimeout: () => heartbeatTimeouts.inc(),
    busPublished: (kind) => busPublished?.inc({ kind }),
    busReceived: (kind) => busReceived?.inc({ kind }),
    fanout: (seconds) => fanout.observe(seconds),
  };

  const started = Date.now();
  /** GET /healthz and GET /metrics; undefined for anything else. */
  const answer = (request: PlainRequest): Promise<PlainAnswer> | undefined => {
    if (request.method !== 'GET') return undefined;
    const path = request.url.split('?', 1)[0];
    if (path === '/healthz') {
      const stopping = sources.stopping();
      const body = `${JSON.stringify({
        status: stopping ? 'shutting down' : 'ok',
        adapter: sources.adapter,
        connections: sources.connections(),
        bus: bus === undefined ? 'none' : bus.connected ? 'connected' : 'disconnected',
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
      })}\n`;
      return Promise.resolve({
        status: stopping ? 503 : 200,
        headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
        body,
      });
    }
    if (path === '/metrics') {
      return collect().then((body) => ({
        status: 200,
        headers: { 'Content-Type': registry.contentType },
        body,
      }));
    }
    return undefined;
  };

  return { registry, observer, answer };
}

export type AppMetrics = ReturnType<typeof createAppMetrics>;

/** Loopback peers only: metrics and health on the public port are not for the world. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(plain) === 4) return plain.startsWith('127.');
  return plain === '::1';
}

/** The endpoints on the adapter's own port: only for loopback peers, everyone else gets the adapter's answer. */
export function publicPortEndpoints(metrics: AppMetrics): HttpEndpoints {
  return (request) => (isLoopback(request.remoteAddress) ? metrics.answer(request) : undefined);
}

/** --metrics-port: a plain http server with /healthz and /metrics, 404 for anything else. */
export function createMetricsServer(metrics: AppMetrics): HttpServer {
  const server = createHttpServer((request, response) => {
    const answer = metrics.answer({
      method: request.method ?? 'GET',
      url: request.url ?? '/',
      remoteAddress: request.socket.remoteAddress,
    });
    const send = ({ status, headers, body }: PlainAnswer): void => {
      response.writeHead(status, { 'Content-Length': Buffer.byteLength(body), ...headers });
      response.end(body);
    };
    if (!answer) {
      send({ status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'try /healthz or /metrics\n' });
      return;
    }
    answer.then(send, () => send({ status: 500, headers: { 'Content-Type': 'text/plain' }, body: 'internal error\n' }));
  });
  // Scrapers keep connections alive; shutdown must not wait for them.
  server.keepAliveTimeout = 5_000;
  return server;
}
