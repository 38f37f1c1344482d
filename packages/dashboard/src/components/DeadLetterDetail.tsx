/**
 * One dead letter: its facts, the stored bytes as a hex dump (the whole stored input from the raw
 * route, or the list's 256-byte preview on hubs without it), and for operators the re-drive button
 * with the pipeline's verdict.
 */
import { useCallback, useMemo, useState } from 'react';
import type { ApiClient } from '../api/api-client.js';
import type { RedriveAnswer } from '../api/dead-letter-api.js';
import { fetchRawBytes, redrive } from '../api/dead-letter-api.js';
import type { DeadLetterItem } from '../contract.js';
import { formatCount, formatDateTime } from '../format.js';
import { bytesFromHex } from '../hex-dump.js';
import { useFetched } from '../use-fetched.js';
import { HexDump } from './HexDump.js';

interface DeadLetterDetailProps {
  readonly api: ApiClient;
  readonly item: DeadLetterItem;
  readonly canOperate: boolean;
  readonly onRedriven: () => void;
}

function describe(answer: RedriveAnswer): string {
  const counts = `${formatCount(answer.accepted)} accepted, ${formatCount(answer.duplicates)} duplicates, ${formatCount(answer.rejected)} rejected`;
  const detail = answer.detail?.replace(/\.$/, '') ?? null;
  const why = answer.reason === null ? '' : ` — ${answer.reason}${detail === null ? '' : `: ${detail}`}`;
  return `Re-drive ${answer.outcome}: ${counts}${why}.`;
}

export function DeadLetterDetail({ api, item, canOperate, onRedriven }: DeadLetterDetailProps) {
  const load = useCallback((signal: AbortSignal) => fetchRawBytes(api, item.id, signal), [api, item.id]);
  const { loaded } = useFetched(load);
  const preview = useMemo(() => bytesFromHex(item.rawHex), [item.rawHex]);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ text: string; ok: boolean } | null>(null);

  const full = loaded.state === 'ok' ? loaded.value : null;
  const bytes = full?.bytes ?? preview;
  const source =
    full !== null
      ? `all ${formatCount(full.bytes.length)} stored bytes${full.cut ? ' (display cut)' : ''}`
      : `first ${formatCount(preview.length)} bytes${item.truncated ? ' (preview; the input was longer)' : ''}`;

  const onRedrive = (): void => {
    setBusy(true);
    setResult(null);
    void redrive(api, item.id).then((answer) => {
      setBusy(false);
      setResult(
        answer.ok
          ? { text: describe(answer.value), ok: answer.value.outcome !== 'refused' }
          : { text: answer.error, ok: false },
      );
      onRedriven();
    });
  };

  return (
    <section className="panel" aria-labelledby="letter-heading" data-testid="dead-letter-detail">
      <h2 id="letter-heading">
        Dead letter <span className="mono">{item.id}</span>
      </h2>
      <dl className="facts">
        <dt>Reason</dt>
        <dd className="mono">{item.reason}</dd>
        <dt>Detail</dt>
        <dd>{item.detail}</dd>
        <dt>Source</dt>
        <dd>
          {item.source} {item.peer !== '' && <span className="mono muted">{item.peer}</span>}
        </dd>
        <dt>Device</dt>
        <dd className="mono">{item.device ?? '–'}</dd>
        <dt>Received</dt>
        <dd>{formatDateTime(item.receivedAt)}</dd>
        {item.redrivenAt != null && (
          <>
            <dt>Re-driven</dt>
            <dd>
              {formatDateTime(item.redrivenAt)} ({item.redriveOutcome ?? 'unknown'})
            </dd>
          </>
        )}
      </dl>
      {canOperate && (
        <div className="actions">
          <button type="button" className="button is-primary" disabled={busy} onClick={onRedrive} data-action="redrive">
            {busy ? 'Re-driving…' : 'Re-drive'}
          </button>
          <span className="muted">Sends the stored input through verification again.</span>
        </div>
      )}
      {result !== null && (
        <p className={result.ok ? 'notice' : 'notice is-error'} role="status" data-testid="redrive-result">
          {result.text}
        </p>
      )}
      <h3>Raw bytes: {source}</h3>
      {loaded.state === 'loading' && <p className="muted">Loading the stored bytes…</p>}
      <HexDump bytes={bytes} label={`Raw bytes of dead letter ${item.id}`} />
    </section>
  );
}
