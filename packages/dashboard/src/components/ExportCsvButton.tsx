/**
 * CSV export of one device's range through the API's streaming export route. The request needs the
 * bearer token, so it is fetched (not a plain link), counted as it streams, cancellable, and handed to
 * the browser as a download when complete.
 */
import { useRef, useState } from 'react';
import type { ApiClient } from '../api/api-client.js';
import type { TimeRange } from '../api/history-api.js';
import { exportCsv, exportFileName } from '../api/history-api.js';
import { formatCount } from '../format.js';

interface ExportCsvButtonProps {
  readonly api: ApiClient;
  readonly device: string;
  readonly range: TimeRange;
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the file once the click was handled.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function ExportCsvButton({ api, device, range }: ExportCsvButtonProps) {
  const [bytes, setBytes] = useState<number | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const controllerRef = useRef<AbortController | null>(null);

  const start = (): void => {
    const controller = new AbortController();
    controllerRef.current = controller;
    setBytes(0);
    setMessage(null);
    void exportCsv(api, device, range, controller.signal, setBytes).then((answer) => {
      controllerRef.current = null;
      setBytes(null);
      if (!answer.ok) {
        setMessage(answer.code === 'aborted' ? 'Export cancelled.' : `Export failed: ${answer.error}`);
        return;
      }
      download(answer.value, exportFileName(device, range));
      setMessage(`Exported ${formatCount(answer.value.size)} bytes.`);
    });
  };

  return (
    <span className="export">
      {bytes === null ? (
        <button type="button" className="button" onClick={start} data-action="export-csv">
          Export CSV
        </button>
      ) : (
        <>
          <span className="muted" role="status">
            Exporting… {formatCount(bytes)} bytes
          </span>
          <button type="button" className="button" onClick={() => controllerRef.current?.abort()}>
            Cancel
          </button>
        </>
      )}
      {message !== null && (
        <span className="muted" role="status" data-testid="export-status">
          {message}
        </span>
      )}
    </span>
  );
}
