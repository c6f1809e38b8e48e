import { type Adapter, CATALOG } from '@socketlab/contract';

/**
 * Every WebSocket transport of the catalog, its adapter loaded from its package: a new
 * WebSocket adapter joins the matrix by its catalog row (and a dev dependency here).
 */
export const WEBSOCKET_ADAPTERS: readonly Adapter[] = await Promise.all(
  CATALOG.filter((entry) => entry.client === 'websocket').map(async (entry) => {
    const loaded = (await import(entry.package)) as { adapter?: Adapter };
    if (!loaded.adapter) throw new Error(`${entry.package} exports no adapter`);
    return loaded.adapter;
  }),
);
