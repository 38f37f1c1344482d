/**
 * Copies a value to the clipboard and says so. Where the Clipboard API is refused (no permission,
 * an insecure origin), it selects the value's text field instead so the user can press Ctrl+C.
 */
import { useState } from 'react';

interface CopyButtonProps {
  readonly value: string;
  /** What is copied, for the button's accessible name ("Copy secret"). */
  readonly what: string;
  /** The id of the input showing the value, selected when copying is refused. */
  readonly fieldId: string;
}

export function CopyButton({ value, what, fieldId }: CopyButtonProps) {
  const [state, setState] = useState<'idle' | 'copied' | 'select'>('idle');
  const copy = (): void => {
    const fallback = (): void => {
      const field = document.getElementById(fieldId);
      if (field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement) {
        field.focus();
        field.select();
      }
      setState('select');
    };
    if (navigator.clipboard === undefined) {
      fallback();
      return;
    }
    navigator.clipboard.writeText(value).then(() => setState('copied'), fallback);
  };
  return (
    <button type="button" className="button" onClick={copy} aria-label={`Copy ${what}`} data-copy={what}>
      {state === 'copied' ? 'Copied' : state === 'select' ? 'Selected: press Ctrl+C' : 'Copy'}
    </button>
  );
}
