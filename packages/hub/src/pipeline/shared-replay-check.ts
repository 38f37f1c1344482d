/**
 * How the pipeline and the ingest doors ask a shared replay window (shared-state-ports.ts): any failure
 * of the window is "could not check" (null), which callers turn into a `state_unavailable` refusal:
 * replay-sensitive input is never accepted unchecked. Forgetting is best effort: an id whose forget
 * fails expires with its window (until then a resend of that input is refused as a replay).
 */
import type { SharedReplayWindow } from './shared-state-ports.js';

/** One answer per id (true: first sighting on any hub), or null when the window could not answer. */
export async function sharedSightings(window: SharedReplayWindow, ids: readonly string[]): Promise<boolean[] | null> {
  try {
    return await window.firstSightings(ids);
  } catch {
    return null;
  }
}

export function forgetShared(window: SharedReplayWindow, ids: readonly string[]): void {
  if (ids.length > 0) window.forget(ids).catch(() => undefined);
}
