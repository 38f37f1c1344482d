/**
 * A man in the middle on raw sockets: one sealed native frame and one legacy token, each altered in a
 * single ciphertext byte after sealing, written to the hub the way a device would. The alterations are
 * chosen so the hub's verdict is certain: a GCM frame fails its tag (integrity_failed), and a legacy
 * token whose secret_key hash changes one hex digit stays valid JSON but matches no hash
 * (legacy_integrity_failed).
 */
import { connect, type Socket } from 'node:net';
import {
  CipherSuite,
  deriveDeviceKey,
  encodeLegacyAuthLine,
  encodeLegacyDataLine,
  FrameDecoder,
  FrameType,
  LEGACY_AUTH_OK,
  legacyKey,
  sealLegacyToken,
  sealReadings,
  type Frame,
  type Reading,
} from '@sealstream/protocol';

const GCM_TAG_BYTES = 16;
const ANSWER_TIMEOUT_MS = 10_000;

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
    socket.setTimeout(ANSWER_TIMEOUT_MS, () => socket.destroy(new Error('no answer from the hub in time')));
  });
}

/**
 * Seals `readings` with the device key, flips the low bit of the last ciphertext byte and sends the
 * frame. Resolves with the frame the hub answered for it (an ERROR frame is the expected answer).
 */
export async function sendTamperedFrame(
  port: number,
  keyId: string,
  secret: Uint8Array,
  readings: readonly Reading[],
): Promise<Frame> {
  const frameId = 7;
  const frame = sealReadings(readings, deriveDeviceKey(secret), { suite: CipherSuite.Aes256Gcm, keyId, frameId });
  const at = frame.length - GCM_TAG_BYTES - 1;
  frame[at] = (frame[at] ?? 0) ^ 0x01;
  const socket = await open(port);
  try {
    const decoder = new FrameDecoder();
    const answer = new Promise<Frame>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        for (const item of decoder.push(chunk)) {
          if (!item.ok) continue;
          const answered = item.frame;
          if ((answered.type === FrameType.Error || answered.type === FrameType.Ack) && answered.frameId === frameId) {
            resolve(answered);
          }
        }
      });
      socket.once('close', () => reject(new Error('the hub closed the connection without answering the frame')));
      socket.once('error', reject);
    });
    socket.write(frame);
    return await answer;
  } finally {
    socket.destroy();
  }
}

/**
 * Authenticates on the legacy port, then sends one DATA line with one token whose ciphertext is
 * altered inside the secret_key hash (AES-CTR: the same plaintext byte changes, '0'..'9'/'a'..'f'
 * XOR 1 stays a printable, non-quote character). Resolves once the line is written and the socket ended.
 */
export async function sendTamperedLegacyToken(port: number, encryptionKey: string, authToken: string): Promise<void> {
  const message = { name: 'Mallory Tamper', origin: 'Lisbon', destination: 'Oslo' };
  const token = sealLegacyToken(message, legacyKey(encryptionKey));
  // Plaintext ends with `<64 hex digits>"}`: the 10th byte from the end is inside the hash.
  const [ivHex, cipherHex] = token.split(':') as [string, string];
  const ciphertext = Buffer.from(cipherHex, 'hex');
  const at = ciphertext.length - 10;
  ciphertext[at] = (ciphertext[at] ?? 0) ^ 0x01;
  const tampered = `${ivHex}:${ciphertext.toString('hex')}`;

  const socket = await open(port);
  try {
    let received = '';
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (!received.includes('\n')) return;
        if (received.startsWith(LEGACY_AUTH_OK)) resolve();
        else reject(new Error(`legacy AUTH refused: ${JSON.stringify(received)}`));
      });
      socket.once('close', () => reject(new Error('legacy connection closed before AUTH_OK')));
      socket.write(encodeLegacyAuthLine(authToken));
    });
    await new Promise<void>((resolve) => socket.end(encodeLegacyDataLine([tampered]), () => resolve()));
  } finally {
    socket.destroySoon();
  }
}
