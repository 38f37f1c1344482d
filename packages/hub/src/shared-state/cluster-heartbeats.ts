/**
 * The cluster view's source: every process writes a heartbeat key of its own into Redis (`node:<instance>`,
 * JSON of its roles, start time and rate) with a TTL of a few beats, refreshed every ~2 s; a process
 * that dies or loses Redis simply disappears when its key expires. Listing scans the live keys (SCAN,
 * never KEYS) and is bounded to MAX_NODES.
 */
import type { RedisState } from './redis-state.js';

export const HEARTBEAT_INTERVAL_MS = 2_000;
/** Three missed beats and a node is gone from the view. */
export const HEARTBEAT_TTL_MS = 3 * HEARTBEAT_INTERVAL_MS;
/** Nodes one listing returns at most. */
export const MAX_NODES = 1_000;

export interface NodeHeartbeat {
  readonly instance: string;
  readonly roles: readonly string[];
  readonly startedAt: number;
  readonly heartbeatAt: number;
  readonly acceptedPerSec: number;
}

export class ClusterHeartbeats {
  constructor(private readonly state: RedisState) {}

  async beat(node: NodeHeartbeat): Promise<void> {
    await this.state.run((redis) => redis.set(`node:${node.instance}`, JSON.stringify(node), 'PX', HEARTBEAT_TTL_MS));
  }

  async forget(instance: string): Promise<void> {
    await this.state.run((redis) => redis.del(`node:${instance}`));
  }

  /** Every node whose heartbeat has not expired, by instance name. */
  async list(): Promise<NodeHeartbeat[]> {
    return this.state.run(async (redis) => {
      // SCAN patterns and answers carry the full key; commands add the prefix themselves.
      const prefix = redis.options.keyPrefix ?? '';
      const keys = new Set<string>();
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${escapeGlob(prefix)}node:*`, 'COUNT', 500);
        for (const key of found) if (keys.size < MAX_NODES) keys.add(key.slice(prefix.length));
        cursor = next;
      } while (cursor !== '0' && keys.size < MAX_NODES);
      if (keys.size === 0) return [];
      const values = await redis.mget(...keys);
      const nodes: NodeHeartbeat[] = [];
      for (const value of values) {
        const node = value === null ? undefined : parseNode(value);
        if (node !== undefined) nodes.push(node);
      }
      return nodes.sort((a, b) => a.instance.localeCompare(b.instance));
    });
  }
}

function parseNode(text: string): NodeHeartbeat | undefined {
  try {
    const value = JSON.parse(text) as Partial<NodeHeartbeat>;
    if (
      typeof value.instance !== 'string' ||
      !Array.isArray(value.roles) ||
      typeof value.startedAt !== 'number' ||
      typeof value.heartbeatAt !== 'number' ||
      typeof value.acceptedPerSec !== 'number'
    ) {
      return undefined;
    }
    return {
      instance: value.instance,
      roles: value.roles.filter((role): role is string => typeof role === 'string'),
      startedAt: value.startedAt,
      heartbeatAt: value.heartbeatAt,
      acceptedPerSec: value.acceptedPerSec,
    };
  } catch {
    return undefined; // another version's or a damaged key: left out of the view
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}
