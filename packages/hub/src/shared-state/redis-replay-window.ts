/**
 * A replay window shared by every hub: an IV (or nonce) is "first seen" by exactly one hub, however
 * many receive copies. One SET NX PX per id, all ids of a call in one script, so a legacy line of 499
 * tokens is one command; the calls of one tick (frames arriving together) are auto-pipelined. Keys
 * expire by themselves after the window, so the bound is the traffic of one window (Redis `maxmemory`
 * is the operator's limit; with `noeviction` a full Redis refuses, and we fail closed).
 */
import { createHash } from 'node:crypto';
import type { SharedReplayWindow } from '../pipeline/shared-state-ports.js';
import type { RedisState } from './redis-state.js';
import { StateUnavailableError } from './redis-state.js';

/**
 * SET NX PX for every key in one script: one command and one reply array for a whole legacy line, where
 * a pipeline of 499 SETs costs the client a command object and a reply each (measured ~13 us per id).
 */
const FIRST_SIGHTINGS = `
local fresh = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, '1', 'PX', ARGV[1], 'NX') then fresh[i] = 1 else fresh[i] = 0 end
end
return fresh
`;
const FIRST_SIGHTINGS_SHA = createHash('sha1').update(FIRST_SIGHTINGS).digest('hex');

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
    const keys = ids.map((id) => `${this.kind}:${id}`);
    const replies = (await this.state.run((redis) =>
      redis.evalsha(FIRST_SIGHTINGS_SHA, keys.length, ...keys, String(this.windowMs)).catch((error: unknown) => {
        // The script is not cached yet (first call, or Redis restarted): send it whole once.
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return redis.eval(FIRST_SIGHTINGS, keys.length, ...keys, String(this.windowMs));
      }),
    )) as unknown;
    if (!Array.isArray(replies) || replies.length !== ids.length) throw new StateUnavailableError('unexpected reply');
    return replies.map((reply) => reply === 1);
  }

  /** Forgets ids whose input was not committed after all, so a resend of the same bytes is not a replay. */
  async forget(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.state.run((redis) => redis.del(...ids.map((id) => `${this.kind}:${id}`)));
  }
}
