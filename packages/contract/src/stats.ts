/** GET /api/v1/stats: the pipeline's running totals and rates, the object the live feed also pushes. */
import { Type, type Static } from '@sinclair/typebox';

export const Stats = Type.Object(
  {
    totalReceived: Type.Number(),
    totalValid: Type.Number(),
    totalInvalid: Type.Number(),
    totalDuplicate: Type.Number(),
    successRate: Type.Number({ description: 'totalValid / totalReceived in percent, two decimals; 100 when empty' }),
    readingsPerSec: Type.Number(),
    rejectsPerSec: Type.Number(),
    rejectsByReason: Type.Record(Type.String(), Type.Number()),
    at: Type.Number({ description: 'ms since the epoch when these numbers were taken' }),
  },
  { $id: 'Stats' },
);
export type Stats = Static<typeof Stats>;
