/**
 * The one moment a device's secret and device token are visible: a modal dialog (native <dialog>,
 * so focus is trapped and Escape works) with each value in a read-only field, a copy button, and a
 * warning that the hub will not show them again. Closing it forgets them.
 */
import { useEffect, useId, useRef } from 'react';
import type { IssuedCredentials } from '../api/device-api.js';
import { formatDateTime } from '../format.js';
import { CopyButton } from './CopyButton.js';

interface CredentialsDialogProps {
  readonly credentials: IssuedCredentials;
  readonly onClose: () => void;
}

export function CredentialsDialog({ credentials, onClose }: CredentialsDialogProps) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  const secretId = useId();
  const tokenId = useId();
  const keyIdField = useId();

  useEffect(() => {
    const dialog = dialogRef.current;
    if (dialog !== null && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);

  const { key } = credentials;
  return (
    <dialog
      ref={dialogRef}
      className="credentials-dialog"
      aria-labelledby={headingId}
      data-testid="credentials-dialog"
      onClose={onClose}
    >
      <h2 id={headingId}>
        {credentials.action === 'registered' ? 'Device registered' : 'Key rotated'}:{' '}
        <span className="mono">{credentials.device}</span>
      </h2>
      <p className="notice is-error" role="alert">
        Copy the secret and the device token now and store them on the device. They are shown only once: the hub keeps
        no readable copy, and closing this dialog forgets them.
      </p>
      <div className="field">
        <label htmlFor={keyIdField}>Key id</label>
        <input id={keyIdField} className="mono" readOnly value={key.keyId} data-testid="issued-key-id" />
      </div>
      <div className="field">
        <label htmlFor={secretId}>Secret (64 hex digits)</label>
        <div className="copy-row">
          <input id={secretId} className="mono" readOnly value={key.secret} data-testid="issued-secret" />
          <CopyButton value={key.secret} what="secret" fieldId={secretId} />
        </div>
      </div>
      <div className="field">
        <label htmlFor={tokenId}>Device token</label>
        <div className="copy-row">
          <input id={tokenId} className="mono" readOnly value={key.deviceToken} data-testid="issued-device-token" />
          <CopyButton value={key.deviceToken} what="device token" fieldId={tokenId} />
        </div>
      </div>
      {credentials.previous.length > 0 && (
        <p className="muted">
          Previous keys keep working until{' '}
          {credentials.previous
            .map((previous) =>
              previous.expiresAt === null
                ? `${previous.keyId} (no expiry)`
                : `${formatDateTime(previous.expiresAt)} (${previous.keyId})`,
            )
            .join(', ')}
          , so devices can switch over.
        </p>
      )}
      <form method="dialog" className="dialog-actions">
        <button type="submit" className="button is-primary">
          I have stored them — close
        </button>
      </form>
    </dialog>
  );
}
