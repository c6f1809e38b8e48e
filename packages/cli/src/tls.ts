import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { TlsOptions } from '@socketlab/contract';
import type { TlsFiles } from './args.js';

/**
 * Reads --tls-cert, --tls-key and --tls-ca and checks that they make a secure context (PEM,
 * the key matching the certificate). Throws an Error whose message is the one line to print.
 */
export async function loadTls(files: TlsFiles): Promise<TlsOptions> {
  const read = async (flag: string, file: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      throw new Error(`cannot read ${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : message}`);
    }
  };
  const [cert, key, ca] = await Promise.all([
    read('--tls-cert', files.certFile),
    read('--tls-key', files.keyFile),
    files.caFile === undefined ? undefined : read('--tls-ca', files.caFile),
  ]);
  const tls: TlsOptions = { cert, key, ...(ca === undefined ? {} : { ca }) };
  try {
    createSecureContext(tls as Parameters<typeof createSecureContext>[0]);
  } catch (error) {
    throw new Error(
      `--tls-cert ${files.certFile} and --tls-key ${files.keyFile} are not a usable PEM certificate and key: ${reason(error)}`,
    );
  }
  return tls;
}

/** OpenSSL's reasons, said plainly where it has a code for them. */
function reason(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH') return 'the key does not belong to the certificate';
  return message;
}
