/**
 * A browser profile's trust store: Chromium on Linux reads the NSS database at
 * `$HOME/.pki/nssdb`, so a temporary HOME with its own database is one profile's roots,
 * made with NSS's certutil (Debian's libnss3-tools) and never the machine's.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const certutilPath = process.env.CERTUTIL_PATH ?? 'certutil';

/** Whether NSS's certutil runs here (it prints its usage and exits 1 without a command). */
export function haveCertutil(): boolean {
  try {
    execFileSync(certutilPath, ['-H'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

export interface NssHome {
  /** What Chromium is launched with as HOME. */
  readonly home: string;
  /** `sql:` + the database directory, as certutil's -d takes it. */
  readonly db: string;
  remove(): void;
}

function certutil(args: string[]): void {
  try {
    execFileSync(certutilPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(
      `certutil ${args.join(' ')} failed (the TLS browser test needs NSS's certutil: apt-get install libnss3-tools): ${stderr || String(error)}`,
    );
  }
}

/**
 * A fresh HOME with an empty NSS database (no password) that trusts, if given, exactly one
 * PEM CA (trust `C,,`: a CA for TLS servers, nothing for mail or code signing).
 */
export function createNssHome(trustedCaFile?: string): NssHome {
  const home = mkdtempSync(join(tmpdir(), 'socketlab-nss-'));
  const dir = join(home, '.pki', 'nssdb');
  mkdirSync(dir, { recursive: true });
  const db = `sql:${dir}`;
  certutil(['-N', '-d', db, '--empty-password']);
  if (trustedCaFile) certutil(['-A', '-d', db, '-n', 'socketlab-test-ca', '-t', 'C,,', '-i', trustedCaFile]);
  return { home, db, remove: () => rmSync(home, { recursive: true, force: true }) };
}
