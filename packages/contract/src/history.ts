/** One device's history: raw readings, series folded from the minute buckets, and per-minute documents. */
import { Type, type Static } from '@sinclair/typebox';

export const Reading = Type.Object(
  {
    device: Type.String(),
    seq: Type.Number(),
    ts: Type.Number({ description: 'device time, ms' }),
    receivedAt: Type.Number(),
    source: Type.String(),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: 'Reading' },
);
export type Reading = Static<typeof Reading>;

export const MetricAggregate = Type.Object({
  min: Type.Number(),
  max: Type.Number(),
  sum: Type.Union([Type.Number(), Type.Null()], {
    description: 'null when not a finite number: the sum overflowed a double, or +∞ and −∞ sums met',
  }),
  count: Type.Number(),
  avg: Type.Union([Type.Number(), Type.Null()], { description: 'sum / count; null when the sum is null' }),
});
export type MetricAggregate = Static<typeof MetricAggregate>;

export const SeriesPoint = Type.Object(
  {
    start: Type.Number({ description: 'bucket start, ms, aligned to the width' }),
    valid: Type.Number(),
    invalid: Type.Number(),
    metrics: Type.Record(Type.String(), MetricAggregate),
  },
  { $id: 'SeriesPoint' },
);
export type SeriesPoint = Static<typeof SeriesPoint>;

export const MinuteDocument = Type.Object(
  {
    minute: Type.Number({ description: 'start of the minute, ms' }),
    records: Type.Array(Type.Record(Type.String(), Type.Unknown())),
    recordsTruncated: Type.Boolean(),
    totalReceived: Type.Number(),
    totalValid: Type.Number(),
    totalInvalid: Type.Number(),
  },
  { $id: 'MinuteDocument' },
);
export type MinuteDocument = Static<typeof MinuteDocument>;
