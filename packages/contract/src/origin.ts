/**
 * Origin allowlist (CONTRACT.md section 3). An entry with no port (`http://localhost`)
 * matches that scheme and host on any port; an entry with a port matches exactly; `*`
 * matches everything. A handshake without an Origin header is not a browser and is allowed;
 * an empty Origin header is present, names nothing on the list, and is refused.
 */
export function isOriginAllowed(origin: string | undefined, allowlist: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowlist.includes('*')) return true;
  // An Origin header that is present but empty names no origin on the list: refused.
  const candidate = parseOrigin(origin);
  if (!candidate) return false;
  return allowlist.some((entry) => {
    const allowed = parseOrigin(entry);
    if (!allowed) return false;
    if (allowed.scheme !== candidate.scheme || allowed.host !== candidate.host) return false;
    return !allowed.explicitPort || allowed.port === candidate.port;
  });
}

interface ParsedOrigin {
  scheme: string;
  host: string;
  /** The effective port: explicit, or the scheme's default. */
  port: string;
  /** Whether the text named a port; an allowlist entry without one matches any port. */
  explicitPort: boolean;
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };

function parseOrigin(value: string): ParsedOrigin | undefined {
  // `null` is what browsers send from file: and sandboxed pages; no host entry can match it.
  if (value === 'null') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  return {
    scheme: url.protocol,
    host: url.hostname.toLowerCase(),
    port: url.port || DEFAULT_PORTS[url.protocol] || '',
    explicitPort: /^[a-z][a-z0-9+.-]*:\/\/(\[[^\]]*\]|[^/:]*):\d+/i.test(value),
  };
}
