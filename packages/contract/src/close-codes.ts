/** RFC 6455 section 7.4.1 close codes, as the contract uses them. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  /** Reserved: never sent on the wire; reported when a close frame had no code. */
  noStatus: 1005,
  /** Reserved: never sent on the wire; reported when the connection was lost without a close frame. */
  abnormal: 1006,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  mandatoryExtension: 1010,
  internalError: 1011,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Whether a code may appear in a close frame on the wire (RFC 6455 7.4.1, 7.4.2 and the
 * IANA registry): 1000-1003, 1007-1014 except the reserved 1015, and 3000-4999.
 */
export function isValidWireCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** The close reasons this project sends, so logs and tests can match them. */
export const CloseReason = {
  shutdown: 'server shutting down',
  tooBig: 'message too big',
  slowConsumer: 'outbound limit exceeded',
  heartbeat: 'heartbeat timeout',
  protocolError: 'protocol error',
  invalidPayload: 'invalid UTF-8',
} as const;

/**
 * The one reason sent with each code an endpoint of ours closes with, whichever adapter: the
 * same event reads the same on net, ws and websocket. What exactly was wrong (which frame rule,
 * which limit) goes to the debug log, not the wire; the code says what kind of failure it was.
 */
const REASON_BY_CODE: ReadonlyMap<number, string> = new Map([
  [CloseCode.goingAway, CloseReason.shutdown],
  [CloseCode.protocolError, CloseReason.protocolError],
  [CloseCode.invalidPayload, CloseReason.invalidPayload],
  [CloseCode.policyViolation, CloseReason.slowConsumer],
  [CloseCode.messageTooBig, CloseReason.tooBig],
]);

/** The reason our endpoints send with `code` (see REASON_BY_CODE), or undefined for codes of their own. */
export function closeReasonFor(code: number): string | undefined {
  return REASON_BY_CODE.get(code);
}

/** How a connection ended: the close code (1006 when no close frame came) and its reason. */
export interface CloseInfo {
  code: number;
  reason: string;
}
