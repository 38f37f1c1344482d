/**
 * The worked examples of docs/api-ingest.md, checked: the openssl recipes there print exactly these
 * values, so a client following the doc and the hub agree.
 */
import { describe, expect, it } from 'vitest';
import { deviceToken } from '@sealstream/protocol';
import { signXRayIotRequest } from '@sealstream/emitter';
import { payloadDigestHex, signRequestHex } from '../../../src/ingest/http/hmac-signature.js';
import { insighthubSeq } from '../../../src/ingest/http/insighthub-route.js';

const SECRET = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const BODY = Buffer.from('{"readings":[{"seq":1,"ts":1763884800000,"data":{"t":21.5}}]}');
const HEADERS = { deviceId: 'sensor-1', timestamp: '1763884800000', nonce: '00112233445566778899aabbccddeeff' };

describe('docs/api-ingest.md worked examples', () => {
  it('signed request', () => {
    expect(payloadDigestHex(SECRET, BODY)).toBe('5aa9f380a3ab47e4137dc834da98096d5abfc896085a52b953aaf1cce4aa5014');
    const signature = '0b0513dc11e9c415bb0a1ea42650a576b97d63663ba891347b8f15e463090945';
    expect(signRequestHex(SECRET, HEADERS, BODY)).toBe(signature);
    expect(signXRayIotRequest(SECRET, HEADERS, BODY)).toBe(signature);
  });

  it('device token', () => {
    expect(deviceToken('sensor-1-key', SECRET)).toBe('sst_sensor-1-key_uljtKvVRSzIQTNcBFtKyofu_7-UIJucNiDGLgEg737E');
  });

  it('derived seq', () => {
    expect(insighthubSeq('sensor-1', '2026-11-23T08:00:00Z', 21.5)).toBe(239917266151667);
  });
});
