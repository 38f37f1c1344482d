/** Reject counts per reason code since the hub started, largest first, from the stats snapshot. */
import type { LiveStats, ReasonCode } from '../contract.js';
import { formatCount } from '../format.js';

interface ReasonCountsProps {
  readonly byReason: LiveStats['rejectsByReason'] | null;
}

export function ReasonCounts({ byReason }: ReasonCountsProps) {
  const counts = Object.entries(byReason ?? {})
    .filter((entry): entry is [ReasonCode, number] => typeof entry[1] === 'number' && entry[1] > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (counts.length === 0) return <p className="muted">No rejects counted.</p>;
  return (
    <table className="table reason-counts" data-testid="rejects-by-reason">
      <caption className="visually-hidden">Rejects by reason</caption>
      <thead>
        <tr>
          <th scope="col">Reason</th>
          <th scope="col" className="num">
            Count
          </th>
        </tr>
      </thead>
      <tbody>
        {counts.map(([reason, count]) => (
          <tr key={reason} data-reason={reason}>
            <th scope="row" className="mono">
              {reason}
            </th>
            <td className="num">{formatCount(count)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
