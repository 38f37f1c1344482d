/**
 * Why a batch did not travel: the pipeline's committer treats each as a failed commit and retries
 * within its deadline, so devices see `store_unavailable` (and resend) only when the bus stays away.
 */
export type BusFailure = 'bus_unavailable' | 'bus_full' | 'bus_unroutable' | 'bus_notice_timeout';

export class BusError extends Error {
  constructor(
    readonly code: BusFailure,
    detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'BusError';
  }
}
