/**
 * A replay window shared by every hub: an IV (or nonce) is "first seen" by exactly one hub, however
 * many receive copies. One SET NX PX per id, pipelined so a legacy line of 499 tokens is one round
 * trip. Keys expire by themselves after the window, so the bound is the traffic of one window (Redis
 * `maxmemory` is the operator's limit; with `noeviction` a full Redis refuses, and we fail closed).
 */
import type { SharedReplayWindow } from '../pipeline/shared-state-ports.js';
import type { RedisState } from './redis-state.js';
import { StateUnavailableError } from './redis-state.js';

export class RedisReplayWindow implements SharedReplayWindow {
  constructor(
    private readonly state: RedisState,
    /** Names the window (e.g. "iv", "iv16", "nonce"), so ids of different kinds never collide. */
    private readonly kind: string,
    private readonly windowMs: number,
  ) {}

  /** One answer per id, in order: true the first time any hub saw it within the window. */
  async firstSightings(ids: readonly string[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    const replies = await this.state.run(async (redis) => {
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.set(`${this.kind}:${id}`, '1', 'PX', this.windowMs, 'NX');
      return pipeline.exec();
    });
    if (replies === null) throw new StateUnavailableError('pipeline aborted');
    return replies.map(([error, reply]) => {
      if (error !== null) throw new StateUnavailableError(error.message.slice(0, 200));
      return reply === 'OK';
    });
  }

  /** Forgets ids whose input was not committed after all, so a resend of the same bytes is not a replay. */
  async forget(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.state.run((redis) => redis.del(...ids.map((id) => `${this.kind}:${id}`)));
  }
}
