/**
 * Raw readings of one device in the queried range, oldest first as the API pages them, with
 * "Load more" following the cursor up to a bound, and the CSV export of the same range.
 */
import { useCallback, useEffect, useState } from 'react';
import type { ApiClient } from '../api/api-client.js';
import type { StoredReading, TimeRange } from '../api/history-api.js';
import { fetchReadings } from '../api/history-api.js';
import { formatDateTime, formatUnknown } from '../format.js';
import { ExportCsvButton } from './ExportCsvButton.js';

interface RawReadingsProps {
  readonly api: ApiClient;
  readonly device: string;
  readonly range: TimeRange;
}

const PAGE = 200;
/** Rows kept on the page; beyond this, export the range instead. */
export const MAX_RAW_ROWS = 5000;

interface RawState {
  readonly items: readonly StoredReading[];
  readonly nextCursor: string | null;
  readonly loading: boolean;
  readonly error: string | null;
}

function dataText(data: Readonly<Record<string, unknown>>): string {
  return Object.entries(data)
    .map(([name, value]) => `${name}=${formatUnknown(value, 40)}`)
    .join('  ');
}

export function RawReadings({ api, device, range }: RawReadingsProps) {
  const [state, setState] = useState<RawState>({ items: [], nextCursor: null, loading: true, error: null });

  /** The next state after one more page; never sets state itself, so effects may call it. */
  const nextPage = useCallback(
    async (cursor: string | null, previous: readonly StoredReading[], signal: AbortSignal): Promise<RawState> => {
      const answer = await fetchReadings(api, device, range, PAGE, cursor, signal);
      return answer.ok
        ? {
            items: [...previous, ...answer.value.items].slice(0, MAX_RAW_ROWS),
            nextCursor: answer.value.nextCursor,
            loading: false,
            error: null,
          }
        : { items: previous, nextCursor: cursor, loading: false, error: answer.error };
    },
    [api, device, range],
  );

  // The first page; the parent re-keys this component for a new device or range, so state starts fresh.
  useEffect(() => {
    const controller = new AbortController();
    void nextPage(null, [], controller.signal).then((next) => {
      if (!controller.signal.aborted) setState(next);
    });
    return () => controller.abort();
  }, [nextPage]);

  const loadMore = (): void => {
    setState((current) => ({ ...current, loading: true, error: null }));
    void nextPage(state.nextCursor, state.items, new AbortController().signal).then(setState);
  };

  const full = state.items.length >= MAX_RAW_ROWS;
  return (
    <section className="panel" aria-labelledby="raw-heading" data-testid="raw-readings">
      <div className="panel-head">
        <h2 id="raw-heading">
          Raw readings of <span className="mono">{device}</span>
        </h2>
        <span className="muted">
          {state.items.length}
          {state.nextCursor !== null ? '+' : ''} in range, oldest first
        </span>
        <ExportCsvButton api={api} device={device} range={range} />
      </div>
      {state.error !== null && <p className="notice is-error">Could not load readings: {state.error}</p>}
      <div className="table-scroll">
        <table className="table">
          <caption className="visually-hidden">Raw readings of {device}, oldest first</caption>
          <thead>
            <tr>
              <th scope="col" className="num">
                Seq
              </th>
              <th scope="col">Device time</th>
              <th scope="col">Received</th>
              <th scope="col">Source</th>
              <th scope="col">Data</th>
            </tr>
          </thead>
          <tbody>
            {state.items.map((reading) => {
              const text = dataText(reading.data);
              return (
                <tr key={`${reading.seq}:${reading.ts}`}>
                  <td className="num">{reading.seq}</td>
                  <td className="mono nowrap">{formatDateTime(reading.ts)}</td>
                  <td className="mono nowrap">{formatDateTime(reading.receivedAt)}</td>
                  <td>{reading.source}</td>
                  <td className="mono data-cell" title={text}>
                    {text}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {state.items.length === 0 && !state.loading && <p className="empty">No readings in this range.</p>}
      </div>
      <div className="actions">
        {state.nextCursor !== null && !full && (
          <button type="button" className="button" disabled={state.loading} onClick={loadMore}>
            Load more
          </button>
        )}
        {full && <span className="muted">Showing the first {MAX_RAW_ROWS}; export the range for all of them.</span>}
        {state.loading && <span className="muted">Loading…</span>}
      </div>
    </section>
  );
}
