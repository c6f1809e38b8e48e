/**
 * The playground page: pick a transport, connect, chat (broadcast), echo text or a file
 * (binary), watch presence, connection state, close codes and round-trip times.
 *
 * Query string: `?transport=ws|net|websocket|socketio`, `&socketio-transport=polling`,
 * `&<transport>=<server url>` to point a transport elsewhere, `&connect=1` to connect at once.
 */
import { DEFAULTS, type Incoming, SUBPROTOCOL } from '@socketlab/contract/client';
import { type Connection, describeEnd, openConnection } from './connection.js';
import { type Explanation, explainEnd } from './explain.js';
import { installHarness } from './harness.js';
import { isRttProbe, meterRtt, RttSamples } from './rtt.js';
import {
  SOCKETIO_TRANSPORTS,
  type SocketIoTransport,
  serverUrlFrom,
  TRANSPORTS,
  type TransportInfo,
  transportInfo,
} from './transports.js';
import './style.css';

installHarness();

const query = new URLSearchParams(location.search);

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page lacks #${id}`);
  return found as T;
}

const ui = {
  picker: element<HTMLFieldSetElement>('transport-picker'),
  socketioOptions: element<HTMLLabelElement>('socketio-options'),
  socketioTransport: element<HTMLSelectElement>('socketio-transport'),
  protocolOptions: element<HTMLLabelElement>('protocol-options'),
  offerProtocol: element<HTMLInputElement>('offer-protocol'),
  protocolRequired: element<HTMLSpanElement>('protocol-required'),
  serverUrl: element<HTMLInputElement>('server-url'),
  connect: element<HTMLButtonElement>('connect'),
  disconnect: element<HTMLButtonElement>('disconnect'),
  status: element<HTMLParagraphElement>('status'),
  closeInfo: element<HTMLParagraphElement>('close-info'),
  presence: element<HTMLUListElement>('presence'),
  presenceCount: element<HTMLSpanElement>('presence-count'),
  log: element<HTMLOListElement>('log'),
  composer: element<HTMLFormElement>('composer'),
  message: element<HTMLInputElement>('message'),
  broadcast: element<HTMLButtonElement>('broadcast'),
  echo: element<HTMLButtonElement>('echo'),
  file: element<HTMLInputElement>('file'),
  rttBody: element<HTMLTableElement>('rtt').tBodies[0]!,
  measureAll: element<HTMLButtonElement>('measure-all'),
};

// ---- transport choice ----------------------------------------------------------------

let selected: TransportInfo = transportInfo(query.get('transport') ?? '') ?? TRANSPORTS[0]!;
const requestedMode = query.get('socketio-transport');
if (requestedMode && (SOCKETIO_TRANSPORTS as readonly string[]).includes(requestedMode)) {
  ui.socketioTransport.value = requestedMode;
}

for (const transport of TRANSPORTS) {
  const label = document.createElement('label');
  const radio = document.createElement('input');
  radio.type = 'radio';
  radio.name = 'transport';
  radio.value = transport.key;
  radio.checked = transport === selected;
  radio.addEventListener('change', () => select(transport));
  label.append(radio, ` ${transport.label}`);
  ui.picker.append(label);
}

function select(transport: TransportInfo): void {
  closeConnection();
  selected = transport;
  ui.serverUrl.value = serverUrlFrom(transport, query, __SOCKETLAB_SERVERS__);
  ui.socketioOptions.hidden = transport.client !== 'socketio';
  ui.protocolOptions.hidden = transport.client !== 'websocket';
  ui.protocolRequired.hidden = !transport.requiresProtocol;
  renderRtt();
}

function socketioMode(): SocketIoTransport {
  return ui.socketioTransport.value === 'polling' ? 'polling' : 'websocket';
}

/** One row of the round-trip table: a transport, and for socket.io its engine transport too. */
function channelOf(transport: TransportInfo, mode: SocketIoTransport): string {
  return transport.client === 'socketio' ? `${transport.name} (${mode})` : transport.name;
}

// ---- connection ----------------------------------------------------------------------

let connection: Connection | undefined;
let selfId: string | undefined;
const presence = new Set<string>();
/** Own broadcasts waiting for their broadcastResult, oldest first (the copy comes first). */
const awaitingResult: HTMLLIElement[] = [];
/** Files sent for echo, oldest first: replies come back in order. */
const awaitingFile: { name: string; bytes: Uint8Array }[] = [];
let stopRtt: (() => void) | undefined;

let everConnected = false;
/** The connection the person closed themselves: closed before it opened, it was cancelled, not refused. */
let closedByUser: Connection | undefined;

function closeConnection(): void {
  if (!connection || connection.state === 'closed') return;
  closedByUser = connection;
  connection.close();
}

function connect(): void {
  everConnected = true;
  stopRtt?.();
  connection?.close();
  connection = undefined;
  const mode = socketioMode();
  const url = ui.serverUrl.value.trim();
  const protocols = ui.offerProtocol.checked ? [SUBPROTOCOL] : [];
  let current: Connection;
  try {
    current = openConnection({ transport: selected, url, protocols, socketioTransport: mode });
  } catch (error) {
    // A URL the WebSocket constructor rejects (wrong scheme, not a URL) throws at once.
    showEnd({ text: `cannot connect: ${(error as Error).message}`, error: true });
    renderStatus();
    return;
  }
  connection = current;
  const channel = channelOf(selected, mode);
  selfId = undefined;
  presence.clear();
  awaitingResult.length = 0;
  awaitingFile.length = 0;
  ui.closeInfo.textContent = '';
  delete ui.closeInfo.dataset.error;
  renderPresence();
  logLine('system', `connecting to ${current.spec.url} over ${channel}`);

  current.subscribe((event) => {
    if (current !== connection) return;
    if (event.kind === 'message') onMessage(event.message);
    renderStatus();
  });
  stopRtt = meterRtt(current, (ms) => {
    samplesOf(channel).add(ms);
    renderRtt();
  });
  current.closed.then((end) => {
    if (current !== connection) return;
    stopRtt?.();
    showEnd(
      end.neverOpened && closedByUser === current
        ? { text: 'cancelled before it opened', error: false }
        : explainEnd(end, { transport: current.spec.transport, url, protocols, pageOrigin: location.origin }),
    );
    presence.clear();
    renderPresence();
    renderStatus();
    renderRtt();
  });
  renderStatus();
  renderRtt();
}

/** How the last connection ended (or could not start), under the status and in the log. */
function showEnd({ text, error }: Explanation): void {
  ui.closeInfo.textContent = text;
  ui.closeInfo.dataset.error = String(error);
  logLine(error ? 'error' : 'system', text);
}

function onMessage(message: Incoming): void {
  switch (message.type) {
    case 'welcome': {
      selfId = message.id;
      // The roster (CONTRACT.md section 1): everyone else already here; then joins and leaves.
      const members = membersOf(message);
      presence.clear();
      presence.add(message.id);
      for (const id of members) presence.add(id);
      logLine(
        'system',
        `connected as ${message.id}; ${members.length === 0 ? 'nobody else here' : `${members.length} already here`}`,
      );
      break;
    }
    case 'join':
      presence.add(message.id);
      logLine('system', `${message.id} joined`);
      break;
    case 'leave':
      presence.delete(message.id);
      logLine('system', `${message.id} left`);
      break;
    case 'broadcast': {
      const line = logLine('broadcast', textOf(message.payload), message.from === selfId ? 'you' : message.from);
      if (message.from === selfId) awaitingResult.push(line);
      break;
    }
    case 'broadcastResult': {
      const line = awaitingResult.shift();
      // The added text can wrap onto another line: still followed.
      if (line) followingLog(() => line.append(` (delivered to ${message.recipients})`));
      break;
    }
    case 'echo':
      if (isRttProbe(message.payload)) return;
      if (message.payload instanceof ArrayBuffer) onFileEcho(new Uint8Array(message.payload));
      else logLine('echo', `echo: ${textOf(message.payload)}`);
      break;
    case 'binary':
      onFileEcho(message.data);
      break;
    case 'error':
      logLine('error', `error ${message.code}: ${message.message}`);
      break;
    case 'unparsed':
      logLine('error', `unreadable message from the server: ${message.text}`);
      break;
  }
  renderPresence();
}

/** `welcome.members`; a server that sends none (an older one) is taken to say nobody else is here. */
function membersOf(welcome: Incoming): string[] {
  const members = (welcome as { members?: unknown }).members;
  return Array.isArray(members) ? members.filter((id): id is string => typeof id === 'string') : [];
}

function onFileEcho(bytes: Uint8Array): void {
  const sent = awaitingFile.shift();
  if (!sent) {
    logLine('file', `binary echo of ${bytes.byteLength} bytes nobody asked for`);
    return;
  }
  const identical = sent.bytes.byteLength === bytes.byteLength && sent.bytes.every((byte, i) => byte === bytes[i]);
  logLine(
    'file',
    `${sent.name}: ${bytes.byteLength} bytes echoed back, ${identical ? 'identical ✓' : `DIFFERENT from the ${sent.bytes.byteLength} sent ✗`}`,
  );
}

/** Chat payloads are `{ text }`; anything else another client sent is shown as JSON. */
function textOf(payload: unknown): string {
  if (typeof payload === 'object' && payload !== null && typeof (payload as { text?: unknown }).text === 'string') {
    return (payload as { text: string }).text;
  }
  return JSON.stringify(payload);
}

// ---- rendering -----------------------------------------------------------------------

function logLine(kind: string, text: string, from?: string): HTMLLIElement {
  const line = document.createElement('li');
  line.dataset.kind = kind;
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  line.append(time);
  if (from !== undefined) {
    const who = document.createElement('span');
    who.className = 'from';
    who.textContent = `${from}:`;
    line.append(who);
  }
  line.append(text);
  followingLog(() => ui.log.append(line));
  return line;
}

/**
 * Changes the log and keeps its newest line in view if the reader was at the bottom already
 * (someone scrolled up to read stays put). Only the log's own box scrolls: scrollIntoView
 * would scroll the page too and push the composer off screen.
 */
function followingLog(change: () => void): void {
  const atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 8;
  change();
  if (atBottom) ui.log.scrollTop = ui.log.scrollHeight;
}

function renderStatus(): void {
  const state = connection?.state ?? 'closed';
  ui.status.dataset.state = state;
  // Before the first Connect there is no connection to call closed.
  const parts: string[] = [connection || everConnected ? state : 'not connected'];
  if (connection && state !== 'closed') {
    parts.push(channelOf(connection.spec.transport, connection.spec.socketioTransport ?? 'websocket'));
    if (state === 'open') {
      const protocol = connection.protocol;
      if (connection.spec.transport.client === 'socketio') parts.push(`engine transport ${protocol}`);
      else parts.push(`subprotocol ${protocol || '(none)'}`, `extensions ${connection.extensions || '(none)'}`);
      // The browser offers permessage-deflate on every handshake; the server decides.
      if (protocol !== 'polling')
        parts.push(connection.extensions ? 'compressed (permessage-deflate)' : 'uncompressed');
    }
    if (selfId) parts.push(`you are ${selfId}`);
  }
  ui.status.textContent = parts.join(' · ');
  const open = state === 'open';
  for (const control of [ui.message, ui.broadcast, ui.echo, ui.file]) control.disabled = !open;
  ui.disconnect.disabled = state === 'closed';
}

function renderPresence(): void {
  ui.presence.replaceChildren(
    ...[...presence].map((id) => {
      const item = document.createElement('li');
      item.textContent = id === selfId ? `${id} (you)` : id;
      if (id === selfId) item.className = 'self';
      return item;
    }),
  );
  ui.presenceCount.textContent = presence.size ? `(${presence.size})` : '';
}

const samplesByChannel = new Map<string, RttSamples>();
function samplesOf(channel: string): RttSamples {
  let samples = samplesByChannel.get(channel);
  if (!samples) samplesByChannel.set(channel, (samples = new RttSamples()));
  return samples;
}

function allChannels(): { transport: TransportInfo; mode: SocketIoTransport; channel: string }[] {
  return TRANSPORTS.flatMap((transport) =>
    (transport.client === 'socketio' ? SOCKETIO_TRANSPORTS : (['websocket'] as const)).map((mode) => ({
      transport,
      mode,
      channel: channelOf(transport, mode),
    })),
  );
}

function renderRtt(): void {
  const live =
    connection?.state === 'open'
      ? channelOf(connection.spec.transport, connection.spec.socketioTransport ?? 'websocket')
      : undefined;
  const ms = (value: number | undefined): string => (value === undefined ? '–' : `${value.toFixed(1)} ms`);
  ui.rttBody.replaceChildren(
    ...allChannels().map(({ channel }) => {
      const samples = samplesByChannel.get(channel);
      const row = document.createElement('tr');
      row.dataset.channel = channel;
      if (channel === live) row.className = 'live';
      for (const [text, numeric] of [
        [channel, false],
        [ms(samples?.last), true],
        [ms(samples?.median), true],
        [String(samples?.count ?? 0), true],
      ] as const) {
        const cell = document.createElement('td');
        cell.textContent = text;
        if (numeric) cell.className = 'number';
        row.append(cell);
      }
      return row;
    }),
  );
}

/** A short-lived connection per transport, ten probes back to back, then close. */
async function measureAll(): Promise<void> {
  ui.measureAll.disabled = true;
  try {
    for (const { transport, mode, channel } of allChannels()) {
      const probe = openConnection({
        transport,
        url:
          transport === selected ? ui.serverUrl.value.trim() : serverUrlFrom(transport, query, __SOCKETLAB_SERVERS__),
        socketioTransport: mode,
      });
      try {
        await probe.opened;
        await new Promise<void>((resolve, reject) => {
          let taken = 0;
          const stop = meterRtt(
            probe,
            (ms) => {
              samplesOf(channel).add(ms);
              renderRtt();
              if (++taken < 10) return;
              stop();
              resolve();
            },
            0,
          );
          probe.closed.then((end) => reject(new Error(describeEnd(end))));
        });
      } catch (error) {
        logLine('error', `${channel}: could not measure (${(error as Error).message})`);
      } finally {
        probe.close();
      }
    }
  } finally {
    ui.measureAll.disabled = false;
  }
}

// ---- controls ------------------------------------------------------------------------

ui.connect.addEventListener('click', connect);
ui.disconnect.addEventListener('click', closeConnection);
ui.socketioTransport.addEventListener('change', closeConnection);
ui.measureAll.addEventListener('click', () => void measureAll());

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.message.value;
  if (!text || connection?.state !== 'open') return;
  connection.send({ type: 'broadcast', payload: { text } });
  ui.message.value = '';
});

ui.echo.addEventListener('click', () => {
  const text = ui.message.value;
  if (!text || connection?.state !== 'open') return;
  connection.send({ type: 'echo', payload: { text } });
  ui.message.value = '';
});

ui.file.addEventListener('change', async () => {
  const file = ui.file.files?.[0];
  ui.file.value = '';
  if (!file || connection?.state !== 'open') return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  awaitingFile.push({ name: file.name, bytes });
  logLine('file', `sending ${file.name} (${bytes.byteLength} bytes) for a binary echo`);
  if (bytes.byteLength > DEFAULTS.maxPayload) {
    logLine('system', "that is over the servers' default 1 MiB message limit: expect the server to end the connection");
  }
  connection.sendBinary(bytes);
});

select(selected);
renderStatus();
if (query.get('connect') === '1') connect();
