/**
 * The pipeline's store on a gateway (and on an api node, for re-drives): `commit` travels over the bus
 * (BusCommitClient: resolves once a writer's commit notice came back, so an ACK still means committed
 * in PostgreSQL); everything else — the running totals the pipeline starts from, health pings — reads
 * PostgreSQL directly, like the device registry and the metric-name lookups do.
 */
import type { BusCommitClient } from '../../bus/bus-commit-client.js';
import type { CommitBatch, CommitResult, ReadingStore } from '../../pipeline/ports.js';
import type { SqlReadingStore } from '../../store/index.js';

export function busReadingStore(bus: BusCommitClient, store: SqlReadingStore): ReadingStore {
  return {
    kind: store.kind,
    migrate: () => store.migrate(),
    commit: (batch: CommitBatch): Promise<CommitResult> => bus.commit(batch),
    totals: () => store.totals(),
    rejectTotals: () => store.rejectTotals(),
    recentDeadLetters: (limit) => store.recentDeadLetters(limit),
    minuteBuckets: (device, fromMs, toMs) => store.minuteBuckets(device, fromMs, toMs),
    readings: (device, fromMs, toMs, limit) => store.readings(device, fromMs, toMs, limit),
    ping: () => store.ping(),
    // The store and the bus are closed by the composer, after the pipeline.
    close: async () => undefined,
  };
}
