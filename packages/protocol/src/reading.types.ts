/** The reading contract shared by devices, the hub, the API and the dashboard. Types only. */

/** One telemetry reading as a device produces it. */
export interface Reading {
  /** Device id: 1–128 chars of [A-Za-z0-9._:-]. */
  readonly device: string;
  /** Per-device sequence number: a safe non-negative integer; (device, seq) identifies the reading. */
  readonly seq: number;
  /** Creation time on the device, milliseconds since the Unix epoch. */
  readonly ts: number;
  /** JSON object body; top-level finite numbers become chartable metrics. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** The original seed message: three strings. */
export interface LegacyMessage {
  readonly name: string;
  readonly origin: string;
  readonly destination: string;
}
