/**
 * CSV export of one device's range. The page asks the hub for a single-use download link (the
 * request carries the bearer token; the link does not need it) and follows it like any link, so the
 * browser streams the file to disk with its own progress and cancel, and the page never holds the
 * file in memory however large the range.
 */
import { useRef, useState } from 'react';
import type { ApiClient } from '../api/api-client.js';
import type { TimeRange } from '../api/history-api.js';
import { requestExportLink } from '../api/history-api.js';

interface ExportCsvButtonProps {
  readonly api: ApiClient;
  readonly device: string;
  readonly range: TimeRange;
}

/** Follows a same-origin download link; the hub answers it as an attachment, so the page stays. */
function follow(url: string): void {
  const link = document.createElement('a');
  link.href = url;
  // The hub's Content-Disposition names the file.
  link.download = '';
  document.body.append(link);
  link.click();
  link.remove();
}

export function ExportCsvButton({ api, device, range }: ExportCsvButtonProps) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const controllerRef = useRef<AbortController | null>(null);

  const start = (): void => {
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    setBusy(true);
    setMessage(null);
    void requestExportLink(api, device, range, controller.signal).then((answer) => {
      if (controller.signal.aborted) return;
      controllerRef.current = null;
      setBusy(false);
      if (!answer.ok) {
        setMessage(`Export failed: ${answer.error}`);
        return;
      }
      follow(answer.value.url);
      setMessage('Export started: your browser is downloading the file.');
    });
  };

  return (
    <span className="export">
      <button type="button" className="button" onClick={start} disabled={busy} data-action="export-csv">
        {busy ? 'Preparing…' : 'Export CSV'}
      </button>
      {message !== null && (
        <span className="muted" role="status" data-testid="export-status">
          {message}
        </span>
      )}
    </span>
  );
}
