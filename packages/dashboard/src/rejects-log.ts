/**
 * The recent-rejects list: live `rejects` events merged with the dead-letter page fetched over
 * REST on load and after every reconnect. Bounded: only the newest `capacity` entries are kept;
 * live rejects waiting to be merged sit in a ring of the same capacity (older ones could never
 * make the list anyway). The same refusal seen on both paths is shown once, preferring the REST
 * copy because it carries the raw bytes.
 */
import type { DeadLetterItem, LiveReject } from './contract.js';
import { RingBuffer } from './ring-buffer.js';

export interface RejectEntry {
  /** Identity for de-duplication and React keys. */
  readonly key: string;
  readonly reason: string;
  readonly source: string;
  readonly device: string | null;
  readonly detail: string;
  /** When the hub received the refused input, ms since epoch. */
  readonly at: number;
  /** Present on entries loaded from the dead-letter store. */
  readonly deadLetter?: {
    readonly id: string;
    readonly peer: string;
    readonly rawHex: string;
    readonly truncated: boolean;
  };
}

function rejectKey(reason: string, source: string, device: string | null, at: number, detail: string): string {
  return JSON.stringify([at, reason, source, device, detail]);
}

export function entryFromLive(reject: LiveReject): RejectEntry {
  return {
    key: rejectKey(reject.reason, reject.source, reject.device, reject.at, reject.detail),
    reason: reject.reason,
    source: reject.source,
    device: reject.device,
    detail: reject.detail,
    at: reject.at,
  };
}

export function entryFromDeadLetter(item: DeadLetterItem): RejectEntry {
  return {
    key: rejectKey(item.reason, item.source, item.device, item.receivedAt, item.detail),
    reason: item.reason,
    source: item.source,
    device: item.device,
    detail: item.detail,
    at: item.receivedAt,
    deadLetter: { id: item.id, peer: item.peer, rawHex: item.rawHex, truncated: item.truncated },
  };
}

export class RejectsLog {
  private list: readonly RejectEntry[] = [];
  private readonly pending: RingBuffer<RejectEntry>;
  private pendingDeadLetters: readonly RejectEntry[] | null = null;

  constructor(readonly capacity = 200) {
    this.pending = new RingBuffer<RejectEntry>(capacity);
  }

  addLive(rejects: readonly LiveReject[]): void {
    for (const reject of rejects) this.pending.push(entryFromLive(reject));
  }

  addDeadLetters(items: readonly DeadLetterItem[]): void {
    this.pendingDeadLetters = items.map(entryFromDeadLetter);
  }

  get hasPending(): boolean {
    return this.pending.size > 0 || this.pendingDeadLetters !== null;
  }

  /** Newest first, at most `capacity`. Same array until something new arrives. */
  entries(): readonly RejectEntry[] {
    if (!this.hasPending) return this.list;
    const byKey = new Map<string, RejectEntry>();
    const keep = (entry: RejectEntry): void => {
      const existing = byKey.get(entry.key);
      if (existing === undefined || (existing.deadLetter === undefined && entry.deadLetter !== undefined)) {
        byKey.set(entry.key, entry);
      }
    };
    this.list.forEach(keep);
    this.pending.toArray().forEach(keep);
    this.pendingDeadLetters?.forEach(keep);
    this.pending.clear();
    this.pendingDeadLetters = null;
    this.list = [...byKey.values()].sort((a, b) => b.at - a.at).slice(0, this.capacity);
    return this.list;
  }
}
