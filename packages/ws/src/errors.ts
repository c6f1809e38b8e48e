import { CloseCode } from '@socketlab/contract';

/**
 * The close code ws sends when it fails a connection, by the `code` of the error it emits
 * (ws's documented WS_ERR_* codes). ws's own `close` event then reports 1006, because the
 * peer's answer is no longer read; the server's code is what an operator needs to see.
 */
export function closeCodeOfError(code: string | undefined): number | undefined {
  switch (code) {
    case 'WS_ERR_INVALID_UTF8':
      return CloseCode.invalidPayload;
    case 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH':
    case 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH':
      return CloseCode.messageTooBig;
    case 'WS_ERR_EXPECTED_FIN':
    case 'WS_ERR_EXPECTED_MASK':
    case 'WS_ERR_INVALID_CLOSE_CODE':
    case 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH':
    case 'WS_ERR_INVALID_OPCODE':
    case 'WS_ERR_UNEXPECTED_MASK':
    case 'WS_ERR_UNEXPECTED_RSV_1':
    case 'WS_ERR_UNEXPECTED_RSV_2_3':
      return CloseCode.protocolError;
    default:
      return undefined;
  }
}
