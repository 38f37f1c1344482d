/**
 * Which deliveries of one channel may be acknowledged together. The broker's `multiple` ack covers
 * every outstanding delivery up to a tag, so it is sent only up to the end of the run of settled
 * deliveries that starts at the oldest outstanding one: a message still being committed (or waiting
 * for its dead-letter copy's confirm) is never covered by an ack meant for later ones, which wait for
 * it instead. A nacked delivery (requeued on its own) ends nothing: it is skipped, and the multiple ack
 * is always sent for a tag this channel still holds (RabbitMQ closes the channel on an unknown tag).
 *
 * Bound: one entry per unacknowledged delivery, which the channel's prefetch bounds. One tracker per
 * channel: delivery tags are per channel, and a closed channel's deliveries come back from the broker.
 */

type Fate = 'pending' | 'ack' | 'nacked';

export class AckTracker {
  /** Outstanding delivery tags in delivery order (tags grow on a channel), from `head` on. */
  private tags: number[] = [];
  private head = 0;
  private readonly fates = new Map<number, Fate>();

  /** A delivery arrived; its tag is above every earlier one on the channel. */
  delivered(tag: number): void {
    this.tags.push(tag);
    this.fates.set(tag, 'pending');
  }

  /**
   * The delivery may be acknowledged (its outcome is safe in the store or in the broker). Returns the
   * tag to acknowledge with `multiple` now, or null when an older delivery is still pending.
   */
  settle(tag: number): number | null {
    if (this.fates.get(tag) !== 'pending') return null;
    this.fates.set(tag, 'ack');
    return this.advance();
  }

  /**
   * The delivery was nacked on its own (it goes back to the queue): later deliveries need not wait for
   * it. Returns the tag to acknowledge with `multiple` now, as settle does.
   */
  nacked(tag: number): number | null {
    if (this.fates.get(tag) !== 'pending') return null;
    this.fates.set(tag, 'nacked');
    return this.advance();
  }

  /** Deliveries not yet acknowledged or nacked (pending, or settled behind a pending one). */
  get outstanding(): number {
    return this.tags.length - this.head;
  }

  private advance(): number | null {
    let ackUpTo: number | null = null;
    while (this.head < this.tags.length) {
      const tag = this.tags[this.head] as number;
      const fate = this.fates.get(tag);
      if (fate === 'pending') break;
      if (fate === 'ack') ackUpTo = tag;
      this.fates.delete(tag);
      this.head += 1;
    }
    // Compact now and then so the array does not grow with every delivery the channel ever had.
    if (this.head > 1024 && this.head * 2 > this.tags.length) {
      this.tags = this.tags.slice(this.head);
      this.head = 0;
    }
    return ackUpTo;
  }
}
