/**
 * This process in the cluster view: its heartbeat in Redis every HEARTBEAT_INTERVAL_MS (roles, instance,
 * start time, readings accepted or committed per second), removed on an orderly stop; and the view's
 * source for GET /api/v1/cluster. Without Redis (role `all` on its own) the view is this process alone.
 */
import type { Logger } from 'pino';
import type { ClusterNode } from '@sealstream/contract';
import type { ClusterSource } from '../../http/cluster-routes.js';
import { ClusterHeartbeats, HEARTBEAT_INTERVAL_MS, type NodeHeartbeat } from '../../shared-state/cluster-heartbeats.js';
import type { RedisState } from '../../shared-state/redis-state.js';

export interface ClusterPresence {
  readonly source: ClusterSource;
  stop(): Promise<void>;
}

export function startClusterPresence(options: {
  readonly redis: RedisState | null;
  readonly instance: string;
  readonly roles: readonly string[];
  readonly acceptedPerSec: () => number;
  readonly logger: Logger;
}): ClusterPresence {
  const startedAt = Date.now();
  const self = (): NodeHeartbeat => ({
    instance: options.instance,
    roles: options.roles,
    startedAt,
    heartbeatAt: Date.now(),
    acceptedPerSec: options.acceptedPerSec(),
  });
  const redis = options.redis;
  if (redis === null) {
    return {
      source: { instance: options.instance, nodes: async () => [toNode(self())] },
      stop: async () => undefined,
    };
  }
  const heartbeats = new ClusterHeartbeats(redis);
  let failing = false;
  const beat = (): void => {
    heartbeats.beat(self()).then(
      () => {
        if (failing) options.logger.info('cluster heartbeat recovered');
        failing = false;
      },
      (error: unknown) => {
        if (!failing) options.logger.warn({ err: (error as Error).message }, 'cluster heartbeat failed; retrying');
        failing = true;
      },
    );
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return {
    source: { instance: options.instance, nodes: async () => (await heartbeats.list()).map(toNode) },
    async stop() {
      clearInterval(timer);
      await heartbeats.forget(options.instance).catch(() => undefined);
    },
  };
}

function toNode(beat: NodeHeartbeat): ClusterNode {
  return { ...beat, roles: [...beat.roles] };
}
