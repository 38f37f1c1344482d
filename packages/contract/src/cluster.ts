/** GET /api/v1/cluster: the hub processes that are up (their heartbeats), their roles and rates. */
import { Type, type Static } from '@sinclair/typebox';

export const ClusterNode = Type.Object(
  {
    instance: Type.String({ description: 'the process name (--instance)' }),
    roles: Type.Array(Type.String(), { description: '`all`, or some of gateway, writer, api' }),
    startedAt: Type.Number({ description: 'ms since the epoch when the process started' }),
    heartbeatAt: Type.Number({ description: 'ms since the epoch of its last heartbeat (every ~2 s)' }),
    acceptedPerSec: Type.Number({
      description: 'readings this process accepted (gateway) or committed (writer) per second',
    }),
  },
  { $id: 'ClusterNode' },
);
export type ClusterNode = Static<typeof ClusterNode>;

export const ClusterView = Type.Object(
  {
    nodes: Type.Array(Type.Ref('ClusterNode'), {
      description: 'processes whose heartbeat is fresher than a few seconds, by instance name',
    }),
    answeredBy: Type.String({ description: 'the instance that answered' }),
  },
  { $id: 'ClusterView' },
);
export type ClusterView = { nodes: ClusterNode[]; answeredBy: string };
