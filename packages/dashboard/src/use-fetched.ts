/**
 * Loading one REST answer into a component: loading / loaded / failed, a reload, and cancellation
 * of the request in flight when the inputs change or the component goes away. The state is derived
 * from which request the last answer belongs to, so the effect only ever sets state when an answer
 * arrives. The last good value stays available while reloading or after a failed reload.
 */
import { useCallback, useEffect, useState } from 'react';
import type { Fetched } from './api/api-client.js';

export type Loaded<T> =
  | { readonly state: 'idle' }
  | { readonly state: 'loading'; readonly previous: T | null }
  | { readonly state: 'ok'; readonly value: T }
  | { readonly state: 'error'; readonly error: string; readonly previous: T | null };

export function valueOf<T>(loaded: Loaded<T>): T | null {
  if (loaded.state === 'ok') return loaded.value;
  if (loaded.state === 'idle') return null;
  return loaded.previous;
}

type Load<T> = (signal: AbortSignal) => Promise<Fetched<T>>;

interface Settled<T> {
  readonly load: Load<T>;
  readonly round: number;
  readonly result: Fetched<T>;
  readonly lastGood: T | null;
}

/** `load` null means "nothing to load yet" (idle). Reloads whenever `load` changes identity. */
export function useFetched<T>(load: Load<T> | null): { readonly loaded: Loaded<T>; reload(): void } {
  const [settled, setSettled] = useState<Settled<T> | null>(null);
  const [round, setRound] = useState(0);

  useEffect(() => {
    if (load === null) return;
    const controller = new AbortController();
    void load(controller.signal).then((result) => {
      if (controller.signal.aborted) return;
      setSettled((previous) => ({
        load,
        round,
        result,
        lastGood: result.ok ? result.value : (previous?.lastGood ?? null),
      }));
    });
    return () => controller.abort();
  }, [load, round]);

  const reload = useCallback(() => setRound((value) => value + 1), []);

  let loaded: Loaded<T>;
  if (load === null) loaded = { state: 'idle' };
  else if (settled === null || settled.load !== load || settled.round !== round) {
    loaded = { state: 'loading', previous: settled?.lastGood ?? null };
  } else if (settled.result.ok) loaded = { state: 'ok', value: settled.result.value };
  else loaded = { state: 'error', error: settled.result.error, previous: settled.lastGood };
  return { loaded, reload };
}
