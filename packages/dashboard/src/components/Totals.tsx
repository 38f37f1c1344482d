/**
 * The header totals: counters and rates from the latest stats snapshot, "–" until one arrives,
 * dimmed while the live link is down so last-known numbers are not read as current.
 */
import type { LiveStats } from '../contract.js';
import { formatCount, formatPercent, formatRate } from '../format.js';

interface TotalsProps {
  readonly stats: LiveStats | null;
  /** True while the live link is down: the numbers are the last known, not current. */
  readonly stale: boolean;
}

interface Total {
  readonly label: string;
  readonly value: string;
  readonly testId?: string;
  readonly tone?: 'good' | 'bad';
}

export function Totals({ stats, stale }: TotalsProps) {
  const dash = '–';
  const totals: Total[] = [
    { label: 'Received', value: stats ? formatCount(stats.totalReceived) : dash, testId: 'total-received' },
    { label: 'Valid', value: stats ? formatCount(stats.totalValid) : dash, testId: 'total-valid', tone: 'good' },
    {
      label: 'Invalid',
      value: stats ? formatCount(stats.totalInvalid) : dash,
      testId: 'total-invalid',
      tone: stats !== null && stats.totalInvalid > 0 ? 'bad' : undefined,
    },
    { label: 'Duplicates', value: stats ? formatCount(stats.totalDuplicate) : dash, testId: 'total-duplicate' },
    { label: 'Success rate', value: stats ? formatPercent(stats.successRate) : dash, testId: 'success-rate' },
    { label: 'Readings/s', value: stats ? formatRate(stats.readingsPerSec) : dash, testId: 'readings-per-sec' },
    { label: 'Rejects/s', value: stats ? formatRate(stats.rejectsPerSec) : dash, testId: 'rejects-per-sec' },
  ];
  return (
    <dl
      className={stale ? 'totals is-stale' : 'totals'}
      aria-label={stale ? 'Totals (last known, not live)' : 'Totals'}
      title={stale ? 'Last known values: the live link is down' : undefined}
    >
      {totals.map((total) => (
        <div className="total" key={total.label}>
          <dt>{total.label}</dt>
          <dd data-testid={total.testId} data-tone={total.tone}>
            {total.value}
          </dd>
        </div>
      ))}
    </dl>
  );
}
