/**
 * What one commit sends live, room by room: the emit code both arms of live-fanout-compare.ts run, so
 * only the transport differs. In the bus arm an api node runs it on each commit message it consumes
 * (target: its own sockets, `io.local`); in the Redis-adapter arm the writer runs it (target: the
 * Redis emitter) and each api node's adapter relays what it publishes to its local sockets.
 *
 * Rooms and payloads are the hub's (protocol's OVERVIEW_ROOM and deviceRoom, `readings` events of
 * LiveReadingBatch): the overview room gets the latest reading of each device in the commit, a device
 * room every reading of its device, each capped at LiveHub's default per-room cap. What differs from
 * LiveHub, in both arms alike: one send per commit instead of its leading-edge/tick coalescing, and no
 * per-client skipping of slow clients (the adapter arm cannot do that, see the report).
 */
import { OVERVIEW_ROOM, deviceRoom, type LiveReading, type LiveReadingBatch } from '@sealstream/protocol';

/** LiveHub's default `maxReadingsPerTick`: readings per room per send. */
export const MAX_READINGS_PER_ROOM = 500;

/** Sends one room's batch (`io.local.to(room).emit` or `emitter.to(room).emit`). */
export type RoomEmit = (room: string, batch: LiveReadingBatch) => void;

/**
 * Emits one commit's readings to the overview room and each device's room, skipping rooms `wanted`
 * refuses (an api node knows which rooms have local members; a writer behind the emitter cannot).
 * Returns the number of room sends.
 */
export function emitCommit(
  readings: readonly LiveReading[],
  emit: RoomEmit,
  wanted: (room: string) => boolean = () => true,
): number {
  const byDevice = new Map<string, LiveReading[]>();
  for (const reading of readings) {
    const list = byDevice.get(reading.device);
    if (list === undefined) byDevice.set(reading.device, [reading]);
    else list.push(reading);
  }
  let sends = 0;
  if (wanted(OVERVIEW_ROOM)) {
    const latest: LiveReading[] = [];
    for (const list of byDevice.values()) latest.push(list[list.length - 1] as LiveReading);
    emit(OVERVIEW_ROOM, capped(OVERVIEW_ROOM, latest));
    sends += 1;
  }
  for (const [device, list] of byDevice) {
    const room = deviceRoom(device);
    if (!wanted(room)) continue;
    emit(room, capped(room, list));
    sends += 1;
  }
  return sends;
}

function capped(room: string, readings: LiveReading[]): LiveReadingBatch {
  if (readings.length <= MAX_READINGS_PER_ROOM) return { room, readings, dropped: 0 };
  return {
    room,
    readings: readings.slice(0, MAX_READINGS_PER_ROOM),
    dropped: readings.length - MAX_READINGS_PER_ROOM,
  };
}
