/**
 * The server's `Sec-WebSocket-Extensions` answer as the raw peer reads it, with a parser of
 * its own (the suite shares no code with the adapters), and RFC 7692's rules for a valid one.
 */

export type ExtensionParams = Map<string, string | true>;

export interface AnsweredExtension {
  name: string;
  params: ExtensionParams;
  /** Parameters named more than once. */
  duplicates: string[];
}

/** Splits an answer into extensions and parameters; quoted values are unquoted. */
export function parseAnswer(header: string): AnsweredExtension[] {
  return header.split(',').map((part) => {
    const [name = '', ...params] = part.split(';').map((piece) => piece.trim());
    const map: ExtensionParams = new Map();
    const duplicates: string[] = [];
    for (const param of params) {
      const eq = param.indexOf('=');
      const key = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
      const value =
        eq < 0
          ? true
          : param
              .slice(eq + 1)
              .trim()
              .replace(/^"(.*)"$/, '$1');
      if (map.has(key)) duplicates.push(key);
      map.set(key, value);
    }
    return { name: name.toLowerCase(), params: map, duplicates };
  });
}

const KNOWN = new Set([
  'server_no_context_takeover',
  'client_no_context_takeover',
  'server_max_window_bits',
  'client_max_window_bits',
]);

/**
 * What is wrong with a permessage-deflate answer to `offer` (RFC 7692 sections 5 and 7.1), or
 * an empty list: one extension, known parameters once each, window sizes 8-15 and within the
 * offer's, `server_no_context_takeover` kept when offered, `client_max_window_bits` only when offered.
 */
export function answerProblems(answer: AnsweredExtension[], offer: ExtensionParams): string[] {
  const problems: string[] = [];
  if (answer.length !== 1) problems.push(`${answer.length} extensions answered, not 1`);
  const [extension] = answer;
  if (!extension) return problems;
  if (extension.name !== 'permessage-deflate') problems.push(`extension ${extension.name}`);
  for (const name of extension.duplicates) problems.push(`${name} twice`);
  for (const [name, value] of extension.params) {
    if (!KNOWN.has(name)) problems.push(`unknown parameter ${name}`);
    if (name.endsWith('_no_context_takeover') && value !== true) problems.push(`${name} with a value`);
    if (name.endsWith('_max_window_bits')) {
      if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) problems.push(`${name}=${String(value)}`);
      const offered = offer.get(name);
      if (typeof offered === 'string' && typeof value === 'string' && Number(value) > Number(offered)) {
        problems.push(`${name}=${value} above the offered ${offered}`);
      }
    }
  }
  if (extension.params.has('client_max_window_bits') && !offer.has('client_max_window_bits')) {
    problems.push('client_max_window_bits answered but not offered');
  }
  if (offer.has('server_no_context_takeover') && !extension.params.has('server_no_context_takeover')) {
    problems.push('server_no_context_takeover offered but not answered');
  }
  if (typeof offer.get('server_max_window_bits') === 'string' && !extension.params.has('server_max_window_bits')) {
    problems.push('server_max_window_bits offered but not answered');
  }
  return problems;
}
