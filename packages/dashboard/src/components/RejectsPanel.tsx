/**
 * Recent rejects (dead-letter page merged with live `rejects` events, newest first) beside the
 * per-reason counts. Entries loaded from the dead-letter store can be expanded to their raw bytes.
 */
import type { LiveStats } from '../contract.js';
import { formatCount, formatDateTime, formatHexDump } from '../format.js';
import type { RejectEntry } from '../rejects-log.js';
import { ReasonCounts } from './ReasonCounts.js';

interface RejectsPanelProps {
  readonly rejects: readonly RejectEntry[];
  readonly byReason: LiveStats['rejectsByReason'] | null;
  readonly dropped: number;
  readonly loadError: string | null;
}

export function RejectsPanel({ rejects, byReason, dropped, loadError }: RejectsPanelProps) {
  return (
    <section className="panel" aria-labelledby="rejects-heading">
      <div className="panel-head">
        <h2 id="rejects-heading">Recent rejects</h2>
        <span className="muted">newest {rejects.length}</span>
      </div>
      {loadError !== null && <p className="notice is-error">Could not load dead letters ({loadError}).</p>}
      {dropped > 0 && <p className="notice">The hub skipped {formatCount(dropped)} live rejects for this client.</p>}
      <div className="rejects-layout">
        <div>
          <h3>By reason</h3>
          <ReasonCounts byReason={byReason} />
        </div>
        <div className="table-scroll">
          <table className="table" data-testid="rejects">
            <caption className="visually-hidden">Recent rejects, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Reason</th>
                <th scope="col">Source</th>
                <th scope="col">Device</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {rejects.map((reject) => (
                <tr key={reject.key} data-reason={reject.reason}>
                  <td className="mono nowrap">{formatDateTime(reject.at)}</td>
                  <td className="mono">{reject.reason}</td>
                  <td>
                    {reject.source}
                    {reject.deadLetter !== undefined && reject.deadLetter.peer !== '' && (
                      <div className="muted mono">{reject.deadLetter.peer}</div>
                    )}
                  </td>
                  <td className="mono">{reject.device ?? <span className="muted">–</span>}</td>
                  <td className="detail-cell">
                    {reject.detail}
                    {reject.deadLetter !== undefined && reject.deadLetter.rawHex !== '' && (
                      <details>
                        <summary>Raw bytes{reject.deadLetter.truncated ? ' (first 256)' : ''}</summary>
                        <pre className="hex">{formatHexDump(reject.deadLetter.rawHex)}</pre>
                      </details>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {rejects.length === 0 && <p className="empty">No rejects.</p>}
        </div>
      </div>
    </section>
  );
}
