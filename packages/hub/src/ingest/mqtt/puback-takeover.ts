/**
 * Lets the hub send its own QoS 1 PUBACKs through an MQTT.js client, so one connection can hold many
 * messages while their commits run.
 *
 * Why: with `customHandleAcks`, MQTT.js reads a connection's next packet only after the callback of the
 * current message was called, and calling it sends the PUBACK. Withholding the PUBACK until commit
 * therefore meant one message in hand per connection: the broker's receive maximum bought nothing, and a
 * hub's commits were only as large as `connections` messages (bench mqtt-native: 1.6K readings per
 * commit against 9.5K over TCP). With the takeover, the hub calls the callback at once (MQTT.js goes on
 * reading) and the PUBACK MQTT.js would send for that message is dropped; the hub sends the real one,
 * with its reason code, after commit (puback-window.ts keeps them in order).
 *
 * It relies on MQTT.js's internal `_sendPacket` (checked at run time): when a future version lacks it,
 * `takeOverPubacks` returns null and the caller keeps one message in hand per connection, as before.
 * The ingest test "holds several messages of one connection in hand" fails if the takeover stops working.
 */
import type { MqttClient } from 'mqtt';

export interface PubackTakeover {
  /** The PUBACK MQTT.js is about to send for `messageId` (after the callback is called) is dropped. */
  skipLibraryAck(messageId: number): void;
  /** Sends a PUBACK now; nothing when the connection is down (a stale packet id must never go out later). */
  sendPuback(messageId: number, reasonCode: number): void;
  /** The connection closed: packet ids waiting to be dropped belong to it and are forgotten. */
  reset(): void;
}

type SendPacket = (packet: { cmd: string; messageId?: number; reasonCode?: number }, ...rest: unknown[]) => void;

export function takeOverPubacks(client: MqttClient): PubackTakeover | null {
  const internals = client as unknown as { _sendPacket?: SendPacket };
  const original = internals._sendPacket;
  if (typeof original !== 'function') return null;
  // Ids whose library PUBACK is dropped: at most one per message taken and not yet called back, which
  // MQTT.js does synchronously, so the set stays tiny; reset() bounds it per connection anyway.
  const skipped = new Set<number>();
  internals._sendPacket = function (this: unknown, packet, ...rest) {
    if (packet.cmd === 'puback' && packet.messageId !== undefined && skipped.delete(packet.messageId)) {
      // MQTT.js waits for this callback before it reads the next packet.
      const callback = rest[0];
      if (typeof callback === 'function') (callback as () => void)();
      return;
    }
    original.call(this, packet, ...rest);
  };
  return {
    skipLibraryAck(messageId) {
      skipped.add(messageId);
    },
    sendPuback(messageId, reasonCode) {
      // Disconnected, MQTT.js would queue the packet and send it on the next connection, where the same
      // packet id may name another message.
      if (!client.connected) return;
      original.call(client, { cmd: 'puback', messageId, reasonCode });
    },
    reset() {
      skipped.clear();
    },
  };
}
