import type { Capabilities } from '@socketlab/contract';
import type { Harness } from './harness.js';

/**
 * What every group is declared with: `(context: GroupContext) => void` declares one
 * `describe` for one clause (or a few close ones) of CONTRACT.md. `describeConformance`
 * decides which groups run; a group only varies the cases inside it by `capabilities`
 * (socket.io's event-shaped bad requests, close codes it cannot see).
 */
export interface GroupContext {
  readonly h: Harness;
  readonly capabilities: Capabilities;
}
