/** Latency samples kept in a bounded array (reservoir sampling beyond the bound) and read as percentiles. */
export class LatencySamples {
  private readonly values: number[] = [];
  private seen = 0;

  constructor(private readonly capacity = 1_000_000) {}

  add(ms: number): void {
    this.seen += 1;
    if (this.values.length < this.capacity) {
      this.values.push(ms);
      return;
    }
    // Reservoir sampling keeps a uniform sample once the bound is reached.
    const slot = Math.floor(Math.random() * this.seen);
    if (slot < this.capacity) this.values[slot] = ms;
  }

  /** The kept values and how many were seen, to carry a sample across processes. */
  snapshot(): { values: number[]; seen: number } {
    return { values: this.values.slice(), seen: this.seen };
  }

  static fromSnapshot(snapshot: { values: readonly number[]; seen: number }, capacity = 1_000_000): LatencySamples {
    const samples = new LatencySamples(capacity);
    const kept = Math.min(capacity, snapshot.values.length);
    for (let i = 0; i < kept; i += 1) samples.values.push(snapshot.values[i] as number);
    samples.seen = snapshot.seen;
    return samples;
  }

  get count(): number {
    return this.seen;
  }

  /** The p-th percentile (0..100) by nearest rank; null without samples. */
  percentile(p: number): number | null {
    if (this.values.length === 0) return null;
    const sorted = Float64Array.from(this.values).sort();
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank] ?? null;
  }
}
