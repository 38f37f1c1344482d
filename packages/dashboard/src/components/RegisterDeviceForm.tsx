/** Registering a device (operator+): its id and an optional name; the answer's credentials go to the dialog. */
import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import type { ApiClient } from '../api/api-client.js';
import type { IssuedCredentials } from '../api/device-api.js';
import { registerDevice } from '../api/device-api.js';

interface RegisterDeviceFormProps {
  readonly api: ApiClient;
  readonly onIssued: (credentials: IssuedCredentials) => void;
}

/** The hub's device id rule (packages/hub query routes). */
export const DEVICE_ID_PATTERN = '[A-Za-z0-9._:\\-]{1,128}';

export function RegisterDeviceForm({ api, onIssued }: RegisterDeviceFormProps) {
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const idField = useId();
  const nameField = useId();

  const submit = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const trimmedName = name.trim();
    void registerDevice(api, id.trim(), trimmedName === '' ? null : trimmedName).then((answer) => {
      setBusy(false);
      if (!answer.ok) {
        setError(answer.code === 'conflict' ? `A device with the id "${id.trim()}" already exists.` : answer.error);
        return;
      }
      setId('');
      setName('');
      onIssued(answer.value);
    });
  };

  return (
    <form className="inline-form" onSubmit={submit} aria-label="Register a device" data-testid="register-device">
      <div className="field">
        <label htmlFor={idField}>Device id</label>
        <input
          id={idField}
          className="mono"
          required
          pattern={DEVICE_ID_PATTERN}
          title="1 to 128 characters: letters, digits, . _ : -"
          value={id}
          onChange={(event) => setId(event.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={nameField}>Name (optional)</label>
        <input id={nameField} maxLength={200} value={name} onChange={(event) => setName(event.target.value)} />
      </div>
      <button type="submit" className="button is-primary" disabled={busy}>
        {busy ? 'Registering…' : 'Register device'}
      </button>
      {error !== null && (
        <p className="notice is-error form-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
