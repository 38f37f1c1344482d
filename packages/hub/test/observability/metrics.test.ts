/** The Prometheus registry: exact metric names, zeroed series for every source before traffic, and updates. */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { REASONS } from '@sealstream/protocol';
import { SOURCES, createMetrics } from '../../src/observability/metrics.js';

const NAMES = [
  'sealstream_readings_accepted_total',
  'sealstream_readings_duplicate_total',
  'sealstream_readings_rejected_total',
  'sealstream_batch_readings',
  'sealstream_commit_seconds',
  'sealstream_submission_seconds',
  'sealstream_dead_letters_total',
  'sealstream_commit_failures_total',
  'sealstream_queue_readings',
  'sealstream_paused_connections',
  'sealstream_connections',
  'sealstream_live_clients',
  'sealstream_live_dropped_total',
  'sealstream_live_emits_total',
  'sealstream_live_ws_clients',
  'sealstream_live_ws_refused_total',
  'sealstream_live_ws_dead_peers_total',
  'sealstream_rollup_journal_rows',
  'sealstream_rollup_flush_failures_total',
  'sealstream_rollup_quarantined_total',
];

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createMetrics', () => {
  it('registers every metric under its exact name, with 0 for every source before any traffic', async () => {
    const text = await createMetrics().registry.metrics();
    for (const name of NAMES) expect(text).toContain(`# TYPE ${name} `);
    expect(SOURCES).toEqual(['tcp', 'legacy', 'http', 'mqtt', 'amqp']);
    for (const source of SOURCES) {
      expect(sample(text, `sealstream_readings_accepted_total{source="${source}"}`)).toBe(0);
      expect(sample(text, `sealstream_readings_duplicate_total{source="${source}"}`)).toBe(0);
      expect(sample(text, `sealstream_connections{source="${source}"}`)).toBe(0);
      for (const reason of Object.keys(REASONS)) {
        expect(sample(text, `sealstream_readings_rejected_total{source="${source}",reason="${reason}"}`)).toBe(0);
      }
    }
    for (const kind of ['readings', 'rejects', 'legacy', 'ws']) {
      expect(sample(text, `sealstream_live_dropped_total{kind="${kind}"}`)).toBe(0);
    }
    for (const cause of ['capacity', 'origin', 'auth']) {
      expect(sample(text, `sealstream_live_ws_refused_total{cause="${cause}"}`)).toBe(0);
    }
    expect(sample(text, 'sealstream_dead_letters_total')).toBe(0);
    expect(sample(text, 'sealstream_commit_failures_total')).toBe(0);
    expect(sample(text, 'sealstream_live_emits_total')).toBe(0);
    expect(sample(text, 'sealstream_batch_readings_count')).toBe(0);
    expect(sample(text, 'sealstream_batch_readings_bucket{le="20000"}')).toBe(0);
    expect(sample(text, 'sealstream_commit_seconds_bucket{le="0.0005"}')).toBe(0);
    expect(sample(text, 'sealstream_commit_seconds_bucket{le="5"}')).toBe(0);
    expect(text).not.toContain('process_cpu');
  });

  it('records what the pipeline and the live layer report', async () => {
    const { registry, pipeline, live } = createMetrics();
    pipeline.readingsAccepted('tcp', 1200);
    pipeline.readingsAccepted('tcp', 3);
    pipeline.readingsDuplicate('legacy', 2);
    pipeline.readingRejected('http', 'integrity_failed', 4);
    pipeline.batchCommitted(1203, 2, 0.004);
    pipeline.batchCommitted(0, 1, 0.0004);
    pipeline.submissionDurable(0.003);
    pipeline.submissionDurable(0.2);
    pipeline.commitFailed();
    pipeline.queueDepth(512);
    pipeline.pausedConnections(3);
    pipeline.connectionOpened('mqtt');
    pipeline.connectionOpened('mqtt');
    pipeline.connectionClosed('mqtt');
    pipeline.connectionDropped('legacy');
    live.clients(7);
    live.dropped('legacy', 5);
    live.emitted(11);
    live.invalidRequest();

    const text = await registry.metrics();
    expect(sample(text, 'sealstream_readings_accepted_total{source="tcp"}')).toBe(1203);
    expect(sample(text, 'sealstream_readings_accepted_total{source="legacy"}')).toBe(0);
    expect(sample(text, 'sealstream_readings_duplicate_total{source="legacy"}')).toBe(2);
    expect(sample(text, 'sealstream_connections_dropped_total{source="legacy"}')).toBe(1);
    expect(sample(text, 'sealstream_connections_dropped_total{source="tcp"}')).toBe(0);
    expect(sample(text, 'sealstream_readings_rejected_total{source="http",reason="integrity_failed"}')).toBe(4);
    // A commit of dead letters only is timed but not counted as a batch of readings.
    expect(sample(text, 'sealstream_batch_readings_count')).toBe(1);
    expect(sample(text, 'sealstream_batch_readings_bucket{le="1000"}')).toBe(0);
    expect(sample(text, 'sealstream_batch_readings_bucket{le="2000"}')).toBe(1);
    expect(sample(text, 'sealstream_commit_seconds_count')).toBe(2);
    expect(sample(text, 'sealstream_commit_seconds_bucket{le="0.0005"}')).toBe(1);
    expect(sample(text, 'sealstream_submission_seconds_count')).toBe(2);
    expect(sample(text, 'sealstream_submission_seconds_bucket{le="0.005"}')).toBe(1);
    expect(sample(text, 'sealstream_submission_seconds_bucket{le="0.25"}')).toBe(2);
    expect(sample(text, 'sealstream_dead_letters_total')).toBe(3);
    expect(sample(text, 'sealstream_commit_failures_total')).toBe(1);
    expect(sample(text, 'sealstream_queue_readings')).toBe(512);
    expect(sample(text, 'sealstream_paused_connections')).toBe(3);
    expect(sample(text, 'sealstream_connections{source="mqtt"}')).toBe(1);
    expect(sample(text, 'sealstream_live_clients')).toBe(7);
    expect(sample(text, 'sealstream_live_dropped_total{kind="legacy"}')).toBe(5);
    expect(sample(text, 'sealstream_live_emits_total')).toBe(11);
    expect(sample(text, 'sealstream_live_invalid_requests_total')).toBe(1);
  });

  it('uses the registry it is given and adds prefixed process metrics only when asked', async () => {
    const registry = new Registry();
    expect(createMetrics(registry).registry).toBe(registry);
    expect(await registry.metrics()).toContain('sealstream_readings_accepted_total');

    const withDefaults = createMetrics({ collectDefaultMetrics: true });
    const text = await withDefaults.registry.metrics();
    expect(text).toContain('sealstream_process_cpu_user_seconds_total');
    expect(text).toContain('sealstream_nodejs_eventloop_lag_seconds');
  });

  it('keeps separate hubs apart: two metric sets never share a registry by default', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.pipeline.readingsAccepted('tcp', 9);
    expect(sample(await b.registry.metrics(), 'sealstream_readings_accepted_total{source="tcp"}')).toBe(0);
  });
});
