/**
 * Short-lived, single-use download tickets for exports. A browser cannot add an Authorization header to
 * a plain link, and fetching the export instead would hold the whole file in the page's memory; so a
 * signed-in user trades a bearer request for a ticket, and the browser navigates to the ticket's URL
 * and streams the file to disk. A ticket is 32 random bytes (base64url), valid `ttlMs` (60 s), taken
 * out of the store by its first use whatever the outcome, and remembers the account that asked.
 * The store keeps only a SHA-256 of each ticket, so a memory dump does not hold usable tickets.
 * Bounds and overflow policy: at most `maxPerOwner` outstanding tickets per account (asking for more
 * evicts that account's oldest, so one user's clicks never cost another user a ticket) and at most
 * `maxOutstanding` in all (expired ones are swept first; beyond it a new ticket is refused, and the
 * route answers 429). In memory, per hub process, by default; with shared state (Redis, several api
 * nodes) the same rules hold across nodes: a ticket issued on one is redeemed once on any, and while the
 * shared store is away tickets are neither issued nor redeemed (fail closed: StateUnavailableError, 503).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SharedTicketStore } from '../pipeline/shared-state-ports.js';
import type { ExportSpec } from './export-routes.js';

export const TICKET_BYTES = 32;
/** base64url of 32 bytes, no padding. */
export const TICKET_PATTERN = '^[A-Za-z0-9_-]{43}$';

export interface ExportTicketOptions {
  /** How long a ticket stays valid; default 60 s. */
  readonly ttlMs?: number;
  /** Outstanding tickets in all; default 1000. */
  readonly maxOutstanding?: number;
  /** Outstanding tickets per account; default 8. */
  readonly maxPerOwner?: number;
  readonly now?: () => number;
  /** Tickets shared with other api nodes (Redis); absent: this process's memory. */
  readonly shared?: SharedTicketStore;
}

export interface IssuedTicket {
  readonly ticket: string;
  readonly expiresAt: number;
}

export interface RedeemedTicket {
  /** Account id of the user who asked for the ticket. */
  readonly owner: string;
  readonly spec: ExportSpec;
  readonly expiresAt: number;
}

const digest = (ticket: string): string => createHash('sha256').update(ticket).digest('hex');

export class ExportTickets {
  readonly ttlMs: number;
  readonly maxOutstanding: number;
  readonly maxPerOwner: number;
  private readonly now: () => number;
  /** By ticket digest; Map order is issue order, and every ticket lives as long, so the oldest expire first. */
  private readonly tickets = new Map<string, RedeemedTicket>();
  private readonly shared: SharedTicketStore | undefined;

  constructor(options: ExportTicketOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxOutstanding = options.maxOutstanding ?? 1000;
    this.maxPerOwner = options.maxPerOwner ?? 8;
    this.now = options.now ?? Date.now;
    this.shared = options.shared;
    if (this.maxOutstanding < 1 || this.maxPerOwner < 1 || this.ttlMs < 1) {
      throw new RangeError('export tickets: ttlMs, maxOutstanding and maxPerOwner must be positive');
    }
  }

  get size(): number {
    return this.tickets.size;
  }

  /** A new ticket for `owner`, or null when the store is full of live tickets (the caller answers 429). */
  async issue(owner: string, spec: ExportSpec): Promise<IssuedTicket | null> {
    const now = this.now();
    const ticket = randomBytes(TICKET_BYTES).toString('base64url');
    const expiresAt = now + this.ttlMs;
    if (this.shared !== undefined) {
      const bounds = { maxPerOwner: this.maxPerOwner, maxOutstanding: this.maxOutstanding };
      const payload = JSON.stringify(spec);
      return (await this.shared.put(digest(ticket), owner, payload, this.ttlMs, bounds)) ? { ticket, expiresAt } : null;
    }
    this.sweep(now);
    const own = [...this.tickets].filter(([, held]) => held.owner === owner);
    for (const [key] of own.slice(0, Math.max(0, own.length - this.maxPerOwner + 1))) this.tickets.delete(key);
    if (this.tickets.size >= this.maxOutstanding) return null;
    this.tickets.set(digest(ticket), { owner, spec, expiresAt });
    return { ticket, expiresAt };
  }

  /** Takes the ticket out of the store (single use); undefined when unknown, used or expired. */
  async take(ticket: string): Promise<RedeemedTicket | undefined> {
    const key = digest(ticket);
    if (this.shared !== undefined) {
      const held = await this.shared.take(key);
      // The shared store expires tickets itself; expiresAt is only informative here.
      return held === undefined
        ? undefined
        : { owner: held.owner, spec: JSON.parse(held.payload) as ExportSpec, expiresAt: this.now() };
    }
    const held = this.tickets.get(key);
    if (held === undefined) return undefined;
    this.tickets.delete(key);
    return held.expiresAt > this.now() ? held : undefined;
  }

  private sweep(now: number): void {
    for (const [key, held] of this.tickets) {
      if (held.expiresAt > now) return;
      this.tickets.delete(key);
    }
  }
}
