import { describe, expect, it } from 'vitest';
import {
  BusCodecError,
  decodeBusBatch,
  decodeCommitNotice,
  decodeCommittedMessage,
  decodeNoticeBundle,
  encodeBusBatch,
  encodeCommitNotice,
  encodeCommittedBundle,
  encodeNoticeBundle,
  noticeBits,
} from '../../src/bus/bus-batch-codec.js';
import { partitionOf, splitByPartition } from '../../src/bus/partitioner.js';
import type { CommitBatch, SignalSummaryRow, VerifiedReading } from '../../src/pipeline/ports.js';

function reading(device: string, seq: number): VerifiedReading {
  return {
    device,
    seq,
    ts: 1_700_000_000_000 + seq,
    data: { t: seq / 3, label: 'é\u2028' },
    source: 'tcp',
    receivedAt: 1_700_000_000_500,
  };
}

function signal(device: string, correlationId: string | null): SignalSummaryRow {
  return {
    deviceId: device,
    time: 1_700_000_000_000,
    capturedAt: 1_700_000_000_010,
    receivedAt: 1_700_000_000_020,
    dataLength: 2,
    dataVolume: 77,
    format: 'xray-sample',
    source: 'amqp',
    correlationId,
    payloadSha256: new Uint8Array(Array.from({ length: 32 }, (_, i) => i * 7)),
  };
}

describe('bus batch codec', () => {
  it('round-trips XRayIOT signal summaries, and sends each with its device partition', () => {
    const batch: CommitBatch = {
      readings: [reading('pump-1', 1), reading('pump-2', 2)],
      deadLetters: [],
      signals: [signal('pump-1', null), signal('pump-2', '0b6ea3a4-2f0e-4a4e-9d7b-3c1d6a7c9e21')],
    };
    expect(decodeBusBatch(encodeBusBatch(batch))).toEqual(batch);
    for (const part of splitByPartition(batch, 8)) {
      const devices = new Set(part.batch.readings.map((r) => r.device));
      expect((part.batch.signals ?? []).map((g) => g.deviceId).every((d) => devices.has(d))).toBe(true);
    }
    expect(splitByPartition(batch, 8).flatMap((part) => part.batch.signals ?? [])).toHaveLength(2);
    const wire = JSON.parse(encodeBusBatch(batch).toString('utf8')) as { s: unknown[][] };
    wire.s[0]![9] = 'not a hash';
    expect(() => decodeBusBatch(Buffer.from(JSON.stringify(wire)))).toThrow(BusCodecError);
  });

  it('marks a batch with summaries version 2, which a writer before summaries refuses instead of dropping them', () => {
    const plain: CommitBatch = { readings: [reading('pump-1', 1)], deadLetters: [] };
    const withSummaries: CommitBatch = { ...plain, signals: [signal('pump-1', null)] };
    const versionOf = (batch: CommitBatch) => (JSON.parse(encodeBusBatch(batch).toString('utf8')) as { v: number }).v;
    // Such a writer decodes version 1 only, and a version 1 batch's `s` means nothing to it.
    expect(versionOf(plain)).toBe(1);
    expect(versionOf(withSummaries)).toBe(2);
    // What the build before version 2 wrote (summaries in a version 1 batch) is still taken whole.
    const older = JSON.parse(encodeBusBatch(withSummaries).toString('utf8')) as { v: number };
    older.v = 1;
    expect(decodeBusBatch(Buffer.from(JSON.stringify(older)))).toEqual(withSummaries);
    older.v = 3;
    expect(() => decodeBusBatch(Buffer.from(JSON.stringify(older)))).toThrow(BusCodecError);
  });

  it('round-trips readings, dead letters with raw bytes, and refusal counts', () => {
    const batch: CommitBatch = {
      readings: [reading('pump-1', 1), reading('pump-2', 7)],
      deadLetters: [
        {
          reason: 'integrity_failed',
          source: 'tcp',
          peer: '127.0.0.1:5000',
          device: null,
          detail: 'tag mismatch',
          raw: new Uint8Array([0, 255, 10, 13]),
          truncated: false,
          receivedAt: 1_700_000_000_900,
        },
      ],
      refusalCounts: [{ device: 'pump-1', reason: 'schema_invalid', receivedAt: 1_700_000_000_000, count: 3 }],
    };
    expect(decodeBusBatch(encodeBusBatch(batch))).toEqual(batch);
  });

  it('carries readings of every ingest path (an AMQP reading reaches the writer too)', () => {
    const sources = ['tcp', 'legacy', 'http', 'mqtt', 'amqp'] as const;
    const batch: CommitBatch = {
      readings: sources.map((source, i) => ({ ...reading('pump-1', i), source })),
      deadLetters: sources.map((source) => ({
        reason: 'schema_invalid' as const,
        source,
        peer: 'p',
        device: null,
        detail: '',
        raw: new Uint8Array([1]),
        truncated: false,
        receivedAt: 1,
      })),
    };
    expect(decodeBusBatch(encodeBusBatch(batch))).toEqual(batch);
  });

  it('refuses what it did not write', () => {
    const bad = [
      'not json',
      '{"v":3,"r":[]}',
      '{"v":2,"r":[]}', // version 2 is a batch with summaries
      '{"v":1}',
      '{"v":1,"r":[["d",1.5,0,0,"tcp",{}]]}',
      '{"v":1,"r":[["d",1,0,0,"smtp",{}]]}',
      '{"v":1,"r":[],"d":[{"reason":"nope"}]}',
      '{"v":1,"r":[],"c":[[null,"schema_invalid",0,0]]}',
    ];
    for (const text of bad) expect(() => decodeBusBatch(Buffer.from(text)), text).toThrow(BusCodecError);
  });

  it('a committed-feed message is one batch or a bundle of them, joined in order', () => {
    const one: CommitBatch = { readings: [reading('pump-1', 1)], deadLetters: [] };
    const two: CommitBatch = {
      readings: [reading('pump-2', 2), reading('pump-3', 3)],
      deadLetters: [],
      refusalCounts: [{ device: 'pump-2', reason: 'schema_invalid', receivedAt: 1, count: 2 }],
    };
    expect(decodeCommittedMessage(encodeBusBatch(one))).toEqual(one);
    const bundle = encodeCommittedBundle([encodeBusBatch(one), encodeBusBatch(two)]);
    expect(decodeCommittedMessage(bundle)).toEqual({
      readings: [...one.readings, ...two.readings],
      deadLetters: [],
      refusalCounts: two.refusalCounts,
    });
    // Framing that does not add up, or a batch inside that is not ours, is refused.
    expect(() => decodeCommittedMessage(bundle.subarray(0, bundle.length - 1))).toThrow(BusCodecError);
    expect(() => decodeCommittedMessage(Buffer.concat([bundle, Buffer.from([0, 0])]))).toThrow(BusCodecError);
    expect(() => decodeCommittedMessage(encodeCommittedBundle([Buffer.from('{"v":3,"r":[]}')]))).toThrow(BusCodecError);
  });

  it('a commit notice must match its batch', () => {
    const notice = encodeCommitNotice([true, false, true]);
    expect(decodeCommitNotice(notice, 3)).toEqual([true, false, true]);
    expect(() => decodeCommitNotice(notice, 2)).toThrow(BusCodecError);
    expect(() => decodeCommitNotice(Buffer.from('{"v":1,"i":"10x"}'), 3)).toThrow(BusCodecError);
  });

  it('a notice bundle carries each batch by correlation id; its bits must match their batch', () => {
    const bundle = encodeNoticeBundle([
      { correlationId: 'a-1', inserted: [true, false] },
      { correlationId: 'a-2', inserted: [] },
    ]);
    const entries = decodeNoticeBundle(bundle);
    expect(entries).toEqual([
      { correlationId: 'a-1', bits: '10' },
      { correlationId: 'a-2', bits: '' },
    ]);
    expect(noticeBits('10', 2)).toEqual([true, false]);
    expect(() => noticeBits('10', 3)).toThrow(BusCodecError);
    expect(() => noticeBits('1x', 2)).toThrow(BusCodecError);
    for (const bad of ['nope', '{"v":2,"b":[]}', '{"v":1,"b":[["a",1]]}', '{"v":1,"b":[[1,"1"]]}', '{"v":1}']) {
      expect(() => decodeNoticeBundle(Buffer.from(bad))).toThrow(BusCodecError);
    }
  });
});

describe('partitioner', () => {
  it('is stable and spreads devices', () => {
    expect(partitionOf('pump-1', 8)).toBe(partitionOf('pump-1', 8));
    const used = new Set(Array.from({ length: 200 }, (_, i) => partitionOf(`dev-${i}`, 8)));
    expect(used.size).toBe(8);
  });

  it('splits a batch so every reading lands once and can be put back in place', () => {
    const readings = Array.from({ length: 50 }, (_, i) => reading(`dev-${i % 7}`, i));
    const parts = splitByPartition({ readings, deadLetters: [] }, 4);
    const seen = new Array<number>(readings.length).fill(0);
    for (const part of parts) {
      expect(part.batch.readings.length).toBe(part.indexes.length);
      part.indexes.forEach((index, k) => {
        seen[index] = (seen[index] ?? 0) + 1;
        expect(part.batch.readings[k]).toBe(readings[index]);
        expect(partitionOf(readings[index]?.device ?? '', 4)).toBe(part.partition);
      });
    }
    expect(seen.every((count) => count === 1)).toBe(true);
  });
});
