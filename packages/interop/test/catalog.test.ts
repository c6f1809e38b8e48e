import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Adapter, CATALOG, DEFAULTS } from '@socketlab/contract';
import { describe, expect, it } from 'vitest';
import { CONTENDERS } from '../../../apps/bench/src/contenders.js';
import { TRANSPORTS } from '../../../apps/web/src/transports.js';
import { clientFor, APPS as SCALE_OUT_APPS } from '../../scale-out/test/clients.js';
import { WEBSOCKET_ADAPTERS } from './adapters.js';

/**
 * The transport catalog (packages/contract/src/catalog.ts) is the one list of transports:
 * this guard fails when a server app, the playground, the benchmark, the interop matrix or
 * the scale-out tests leave one of its rows out, or when a row disagrees with its adapter.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const appsDir = join(root, 'apps');

describe('the transport catalog covers every transport, and everything covers the catalog', () => {
  it('every apps/*-server is a catalog row, and no row lacks its app', () => {
    const serverApps = readdirSync(appsDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && entry.name.endsWith('-server'))
      .map((entry) => entry.name)
      .sort();
    expect(serverApps).toEqual(CATALOG.map((entry) => entry.app).sort());
  });

  for (const entry of CATALOG) {
    describe(entry.key, () => {
      it(`apps/${entry.app} is the ${entry.package} app`, () => {
        const manifest = JSON.parse(readFileSync(join(appsDir, entry.app, 'package.json'), 'utf8')) as {
          name: string;
          dependencies?: Record<string, string>;
        };
        expect(manifest.name).toBe(entry.app);
        expect(manifest.dependencies?.[entry.package], `${entry.app} depends on ${entry.package}`).toBeDefined();
        const main = join(appsDir, entry.app, 'src', 'main.ts');
        expect(existsSync(main), `${main} exists`).toBe(true);
        expect(readFileSync(main, 'utf8')).toContain(`from '${entry.package}'`);
      });

      it(`${entry.package} exports the adapter named "${entry.key}", whose defaults match the row`, async () => {
        const { adapter } = (await import(entry.package)) as { adapter: Adapter };
        expect(adapter.name).toBe(entry.key);
        expect(adapter.defaults?.requireProtocol ?? DEFAULTS.requireProtocol).toBe(entry.requiresProtocol);
        expect(adapter.capabilities.websocketProtocol).toBe(entry.client === 'websocket');
        expect(adapter.capabilities.compression).toBe(entry.compression);
      });

      it('the playground offers it', () => {
        expect(TRANSPORTS.map((transport) => transport.key)).toContain(entry.key);
      });

      it('the benchmark runs it', () => {
        expect(CONTENDERS.map((contender) => contender.appDir)).toContain(join(appsDir, entry.app));
      });

      if (entry.client === 'websocket') {
        it('the interop matrix pairs it with every other WebSocket adapter', () => {
          expect(WEBSOCKET_ADAPTERS.map((adapter) => adapter.name)).toContain(entry.key);
        });
      }

      it('the scale-out tests start its app and know its client', () => {
        expect(SCALE_OUT_APPS).toContain(entry.app);
        expect(clientFor(entry.app).capabilities.websocketProtocol).toBe(entry.client === 'websocket');
      });
    });
  }
});
