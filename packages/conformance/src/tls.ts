import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { within } from '@socketlab/contract';

/** A certificate authority made for one test run: it signs leaves and clients trust it. */
export interface TestCa {
  /** The CA certificate, PEM: what a client is given as `ca`. */
  readonly cert: string;
  readonly certFile: string;
  readonly dir: string;
  /** A new leaf for localhost, 127.0.0.1 and ::1, with its own key. */
  issue(name?: string): TestCertificate;
}

/** A server certificate and its key, as PEM and as files (for the apps' --tls-cert and --tls-key). */
export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
  /** The issuing CA's certificate, PEM. */
  readonly ca: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** The leaf's serial number, hex: tells two leaves apart. */
  readonly serialNumber: string;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed (the TLS tests need the openssl CLI): ${stderr || String(error)}`);
  }
}

/**
 * Creates a CA with the openssl CLI in a fresh temporary directory: EC P-256 keys, valid two
 * days, nothing committed that could expire or leak. Generated once per test process.
 */
export function createTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'socketlab-tls-'));
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-days',
    '2',
    '-subj',
    '/CN=socketlab test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    'ca.pem',
  ]);
  const certFile = join(dir, 'ca.pem');
  const cert = readFileSync(certFile, 'utf8');
  let issued = 0;
  return {
    cert,
    certFile,
    dir,
    issue(name = `leaf${++issued}`) {
      writeFileSync(
        join(dir, `${name}.ext`),
        [
          'basicConstraints=critical,CA:FALSE',
          'keyUsage=critical,digitalSignature',
          'extendedKeyUsage=serverAuth',
          'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
          '',
        ].join('\n'),
      );
      openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
      openssl(dir, [
        'req',
        '-new',
        '-key',
        `${name}.key`,
        '-subj',
        `/CN=${name}.socketlab.test`,
        '-out',
        `${name}.csr`,
      ]);
      openssl(dir, [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-set_serial',
        `0x${Date.now().toString(16)}${issued.toString(16).padStart(4, '0')}`,
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.pem`,
      ]);
      const leafFile = join(dir, `${name}.pem`);
      const keyFile = join(dir, `${name}.key`);
      const leaf = readFileSync(leafFile, 'utf8');
      const x509 = new X509Certificate(leaf);
      return {
        cert: leaf,
        key: readFileSync(keyFile, 'utf8'),
        ca: cert,
        certFile: leafFile,
        keyFile,
        caFile: certFile,
        serialNumber: x509.serialNumber,
      };
    },
  };
}

let shared: { ca: TestCa; leaf: TestCertificate } | undefined;

/** The test process's CA and its first leaf, made on first use. */
export function testTls(): { ca: TestCa; leaf: TestCertificate } {
  if (!shared) {
    const ca = createTestCa();
    shared = { ca, leaf: ca.issue('server') };
  }
  return shared;
}

/** The serial number of the certificate a new TLS handshake with 127.0.0.1:port sees. */
export async function servedSerial(port: number, ca: string): Promise<string> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ca });
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      }),
      5_000,
      `a TLS handshake with 127.0.0.1:${port}`,
    );
    return socket.getPeerCertificate().serialNumber;
  } finally {
    socket.destroy();
  }
}
