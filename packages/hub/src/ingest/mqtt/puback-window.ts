/**
 * The withheld PUBACKs of one broker connection: many messages in hand at once, each acknowledged only
 * after its readings are committed, and the acknowledgements sent in the order the PUBLISHes arrived
 * (MQTT 5 §4.6: a receiver sends PUBACKs in the order it received the QoS 1 PUBLISHes). A message
 * finished early waits behind the ones that arrived before it; its work (open, commit, answer) does not.
 *
 * One window per connection: when the connection closes the window is discarded and nothing it held is
 * acknowledged any more — the broker keeps those messages in the session and delivers them again, and a
 * packet id of the old connection must never acknowledge a message of the new one.
 *
 * Bound: `limit` messages (the receive maximum the hub announced, which the broker must respect);
 * overflow policy: `full` tells the caller to take the next message one at a time (stop reading).
 * Pure: `send` does the I/O.
 */

export type PubackSender = (messageId: number, reasonCode: number) => void;

interface Held {
  readonly messageId: number;
  reasonCode: number | null;
}

export class PubackWindow {
  private held: Held[] = [];
  private discarded = false;

  constructor(
    private readonly send: PubackSender,
    readonly limit: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('PubackWindow: limit must be >= 1');
  }

  /** Messages taken and not yet acknowledged. */
  get size(): number {
    return this.held.length;
  }

  get full(): boolean {
    return this.held.length >= this.limit;
  }

  /**
   * Takes a message; the returned function acknowledges it with a PUBACK reason code once it and every
   * message taken before it are done. Calling it twice, or after `discard`, does nothing.
   */
  hold(messageId: number): (reasonCode: number) => void {
    if (this.discarded) return () => undefined;
    const entry: Held = { messageId, reasonCode: null };
    this.held.push(entry);
    return (reasonCode) => {
      if (this.discarded || entry.reasonCode !== null) return;
      entry.reasonCode = reasonCode;
      this.flush();
    };
  }

  /** The connection is gone: nothing held is acknowledged, now or later. */
  discard(): void {
    this.discarded = true;
    this.held = [];
  }

  private flush(): void {
    let done = 0;
    for (const entry of this.held) {
      if (entry.reasonCode === null) break;
      done += 1;
    }
    if (done === 0) return;
    const ready = this.held.slice(0, done);
    this.held = this.held.slice(done);
    for (const entry of ready) this.send(entry.messageId, entry.reasonCode as number);
  }
}
