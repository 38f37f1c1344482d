/**
 * The dead-letters view: refusals newest first, filtered by reason and device, paged with the API's
 * cursor ("Load more", bounded), and the selected one in detail with its bytes and re-drive.
 */
import { memo, useCallback, useEffect, useId, useState } from 'react';
import type { FormEvent } from 'react';
import type { ApiClient } from '../api/api-client.js';
import { DeadLetterDetail } from '../components/DeadLetterDetail.js';
import type { DeadLetterItem } from '../contract.js';
import { formatDateTime } from '../format.js';
import { DEAD_LETTER_REASONS } from '../reason-codes.js';
import { fetchDeadLetters } from '../rest-api.js';

interface DeadLettersViewProps {
  readonly api: ApiClient;
  readonly canOperate: boolean;
}

const PAGE = 100;
/** Rows kept in the list; "Load more" stops here (narrow the filter instead). */
export const MAX_LETTERS = 2000;

interface Filter {
  readonly reason: string;
  readonly device: string;
}

interface ListState {
  readonly items: readonly DeadLetterItem[];
  readonly nextCursor: string | null;
  readonly loading: boolean;
  readonly error: string | null;
}

function DeadLettersViewComponent({ api, canOperate }: DeadLettersViewProps) {
  const [draft, setDraft] = useState<Filter>({ reason: '', device: '' });
  const [filter, setFilter] = useState<Filter>({ reason: '', device: '' });
  const [list, setList] = useState<ListState>({ items: [], nextCursor: null, loading: true, error: null });
  const [selected, setSelected] = useState<DeadLetterItem | null>(null);
  const [round, setRound] = useState(0);
  const reasonId = useId();
  const deviceId = useId();
  const listId = useId();

  /** The list after one more page; never sets state itself, so the effect below may call it. */
  const nextPage = useCallback(
    async (applied: Filter, cursor: string | null, previous: readonly DeadLetterItem[], signal: AbortSignal) => {
      const answer = await fetchDeadLetters(api, signal, {
        limit: PAGE,
        reason: applied.reason.trim(),
        device: applied.device.trim(),
        ...(cursor === null ? {} : { cursor }),
      });
      const next: ListState = answer.ok
        ? {
            items: [...previous, ...answer.value.items].slice(0, MAX_LETTERS),
            nextCursor: answer.value.nextCursor,
            loading: false,
            error: null,
          }
        : { items: previous, nextCursor: cursor, loading: false, error: answer.error };
      return next;
    },
    [api],
  );

  // The first page for the applied filter, loaded when the filter is applied or refreshed.
  useEffect(() => {
    const controller = new AbortController();
    void nextPage(filter, null, [], controller.signal).then((next) => {
      if (!controller.signal.aborted) setList(next);
    });
    return () => controller.abort();
  }, [nextPage, filter, round]);

  const reloadFirstPage = (): void => {
    setList((state) => ({ ...state, loading: true, error: null }));
    setRound((value) => value + 1);
  };

  const apply = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    setFilter(draft);
    setSelected(null);
    reloadFirstPage();
  };

  const loadMore = (): void => {
    setList((state) => ({ ...state, loading: true, error: null }));
    void nextPage(filter, list.nextCursor, list.items, new AbortController().signal).then(setList);
  };

  const refreshed = useCallback(() => setRound((value) => value + 1), []);
  const full = list.items.length >= MAX_LETTERS;
  return (
    <>
      <section className="panel" aria-labelledby="letters-heading">
        <div className="panel-head">
          <h2 id="letters-heading">Dead letters</h2>
          <span className="muted">{list.items.length} shown, newest first</span>
        </div>
        <form
          className="inline-form"
          onSubmit={apply}
          aria-label="Filter dead letters"
          data-testid="dead-letter-filter"
        >
          <div className="field">
            <label htmlFor={reasonId}>Reason</label>
            <input
              id={reasonId}
              className="mono"
              list={listId}
              placeholder="any"
              value={draft.reason}
              onChange={(event) => setDraft({ ...draft, reason: event.target.value })}
            />
            <datalist id={listId}>
              {/* Suggestions from the protocol's catalogue; any code can still be typed. */}
              {DEAD_LETTER_REASONS.map(({ reason, description }) => (
                <option key={reason} value={reason} label={`${reason}: ${description}`} />
              ))}
            </datalist>
          </div>
          <div className="field">
            <label htmlFor={deviceId}>Device</label>
            <input
              id={deviceId}
              className="mono"
              placeholder="any"
              value={draft.device}
              onChange={(event) => setDraft({ ...draft, device: event.target.value })}
            />
          </div>
          <button type="submit" className="button is-primary">
            Apply
          </button>
        </form>
        {list.error !== null && <p className="notice is-error">Could not load dead letters: {list.error}</p>}
        <div className="table-scroll">
          <table className="table" data-testid="dead-letters">
            <caption className="visually-hidden">Dead letters; select one to see its bytes</caption>
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">Reason</th>
                <th scope="col">Source</th>
                <th scope="col">Device</th>
                <th scope="col">Detail</th>
                <th scope="col">Inspect</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((item) => (
                <tr
                  key={item.id}
                  data-letter={item.id}
                  data-reason={item.reason}
                  className={selected?.id === item.id ? 'is-followed' : undefined}
                >
                  <td className="mono nowrap">{formatDateTime(item.receivedAt)}</td>
                  <td className="mono">{item.reason}</td>
                  <td>{item.source}</td>
                  <td className="mono">{item.device ?? <span className="muted">–</span>}</td>
                  <td className="detail-cell">{item.detail}</td>
                  <td>
                    <button
                      type="button"
                      className="button"
                      aria-label={`Inspect dead letter ${item.id}`}
                      onClick={() => setSelected(item)}
                    >
                      Inspect
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.items.length === 0 && !list.loading && <p className="empty">No dead letters match.</p>}
        </div>
        <div className="actions">
          {list.nextCursor !== null && !full && (
            <button type="button" className="button" disabled={list.loading} onClick={loadMore}>
              Load more
            </button>
          )}
          {full && (
            <span className="muted">Showing the newest {MAX_LETTERS}; narrow the filter to see older ones.</span>
          )}
          {list.loading && <span className="muted">Loading…</span>}
        </div>
      </section>
      {selected !== null && (
        <DeadLetterDetail key={selected.id} api={api} item={selected} canOperate={canOperate} onRedriven={refreshed} />
      )}
    </>
  );
}

export const DeadLettersView = memo(DeadLettersViewComponent);
