/** The human-readable table of scenario results. */
import type { ScenarioResult } from './scenarios.js';

type Row = ScenarioResult & { readonly copyFraction: number | null };

const COLUMNS: ReadonlyArray<readonly [string, (row: Row) => string]> = [
  ['scenario', (r) => r.scenario],
  ['store', (r) => r.store],
  ['readings', (r) => String(r.readings)],
  ['seconds', (r) => r.seconds.toFixed(2)],
  ['readings/s', (r) => String(r.readingsPerSec)],
  ['of COPY', (r) => (r.copyFraction === null ? '-' : `${(r.copyFraction * 100).toFixed(1)}%`)],
  ['p50 ms', (r) => (r.p50Ms === null ? 'n/m' : r.p50Ms.toFixed(1))],
  ['p99 ms', (r) => (r.p99Ms === null ? 'n/m' : r.p99Ms.toFixed(1))],
  [
    'store commit p50/p99',
    (r) => (r.storeCommit === null ? '-' : `${r.storeCommit.p50Ms ?? '-'}/${r.storeCommit.p99Ms ?? '-'}`),
  ],
  ['p99 ≤ store p99+10', (r) => (r.p99WithinStoreP99Plus10 === null ? '-' : r.p99WithinStoreP99Plus10 ? 'yes' : 'NO')],
  [
    'hub loop delay p99/max ms',
    (r) => `${r.hubPauses.eventLoopDelayP99Ms ?? '-'}/${r.hubPauses.eventLoopDelayMaxMs ?? '-'}`,
  ],
  ['hub GC ms', (r) => (r.hubPauses.gcPauseMs === null ? '-' : String(r.hubPauses.gcPauseMs))],
  ['legacy workers', (r) => (r.legacyWorkers === null ? '-' : String(r.legacyWorkers))],
  ['lat. sample', (r) => (r.latencyDevices === 0 ? '-' : `${r.latencySamples}/${r.latencyDevices}dev`)],
  ['lost', (r) => String(r.lost)],
  ['dup', (r) => String(r.duplicates)],
  ['hub CPU', (r) => (r.hubCpuPct === null ? '-' : `${r.hubCpuPct}%`)],
  ['hub main thread', (r) => (r.hubMainThreadCpuPct === null ? '-' : `${r.hubMainThreadCpuPct}%`)],
  ['hub pg backends CPU', (r) => (r.hubBackendsCpuPct === null ? '-' : `${r.hubBackendsCpuPct}%`)],
  ['bench CPU', (r) => `${r.benchCpuPct}%`],
  [
    'CPU µs/reading hub+pg',
    (r) =>
      r.cpuMicrosPerReading.hub === null
        ? '-'
        : `${r.cpuMicrosPerReading.hub}+${r.cpuMicrosPerReading.postgres ?? '(in hub)'}`,
  ],
  ['other CPU', (r) => (r.otherCpuPct === null ? '-' : `${r.otherCpuPct}%`)],
  ['broker CPU', (r) => (r.brokerCpuPct === null ? '-' : `${r.brokerCpuPct}%`)],
  ['WAL B/reading', (r) => (r.walBytesPerReading === null ? '-' : String(r.walBytesPerReading))],
  [
    'checkpoints',
    (r) =>
      r.postgresActivity === null
        ? '-'
        : `${r.postgresActivity.checkpoints.requested + r.postgresActivity.checkpoints.timed}` +
          (r.postgresActivity.checkpoints.requested > 0 ? ` (${r.postgresActivity.checkpoints.requested} by WAL)` : ''),
  ],
  ['commits', (r) => (r.hub.commits === null ? '-' : String(r.hub.commits))],
  ['rows/commit', (r) => (r.hub.avgBatchRows === null ? '-' : String(r.hub.avgBatchRows))],
  ['ms/commit', (r) => (r.hub.avgCommitMs === null ? '-' : String(r.hub.avgCommitMs))],
];

export function formatTable(rows: readonly Row[]): string {
  const cells = [COLUMNS.map(([title]) => title), ...rows.map((row) => COLUMNS.map(([, cell]) => cell(row)))];
  const widths = COLUMNS.map((_, c) => Math.max(...cells.map((line) => (line[c] ?? '').length)));
  const render = (line: readonly string[]): string =>
    line.map((cell, c) => (c < 2 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  const notes = rows.filter((row) => row.note !== '').map((row) => `  ${row.scenario}: ${row.note}`);
  const activity = rows
    .filter((row) => row.postgresActivity !== null)
    .map(
      (row) =>
        `  ${row.scenario}: ${(row.postgresActivity?.top ?? [])
          .slice(0, 5)
          .map((t) => `${(t.share * 100).toFixed(0)}% ${t.what}`)
          .join('; ')}`,
    );
  return [
    render(cells[0] ?? []),
    ...cells.slice(1).map(render),
    ...(notes.length > 0 ? ['', 'notes:', ...notes] : []),
    ...(activity.length > 0
      ? ['', "hub's PostgreSQL sessions (state | wait | statement, share of samples):", ...activity]
      : []),
    '',
    'n/m = not measured. CPU: % of one core over the timed phase (200% = both cores); other CPU = the rest',
    'of the machine (other processes and other PostgreSQL sessions, not this bench): noise when it is not ~0.',
  ].join('\n');
}
