/**
 * Two re-drives of one dead letter at the same moment: exactly one re-drives it and reports so; the
 * other is told `409 conflict` (`redrive_in_progress`) and commits nothing. A re-drive after the first
 * finished is still allowed (and reports a duplicate). Over a real app on PGlite, and on the PostgreSQL
 * server when it answers (where two hubs share the store).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startApiHarness, type ApiHarness } from '../support/api-harness.js';
import { failIfRequired, pgAvailability } from '../support/postgres.js';

const postgres = await pgAvailability();
const stores = [
  { kind: 'pglite', skip: null },
  { kind: 'postgres', skip: postgres.available ? null : postgres.reason },
] as const;

for (const { kind, skip } of stores) {
  describe.skipIf(skip !== null)(`concurrent re-drives of one dead letter on ${kind}`, () => {
    let api: ApiHarness;
    beforeAll(async () => {
      failIfRequired(postgres);
      api = await startApiHarness(kind);
    });
    afterAll(async () => {
      await api?.stop();
    });

    /** A reading refused as timestamp_out_of_range, kept as a re-drivable dead letter. */
    async function letterFor(device: string, seq: number): Promise<string> {
      const reading = { device, seq, ts: Date.now(), data: { v: seq } };
      await api.store.commit({
        readings: [],
        deadLetters: [
          {
            reason: 'timestamp_out_of_range',
            source: 'tcp',
            peer: '127.0.0.1:9',
            device,
            detail: `refused reading of ${device}`,
            raw: Buffer.from(JSON.stringify(reading)),
            truncated: false,
            receivedAt: Date.now(),
          },
        ],
      });
      const page = await api.store.deadLetterPage({ filter: { device }, limit: 10, before: null });
      const id = page.items[0]?.id;
      if (id === undefined) throw new Error('dead letter not stored');
      return id;
    }

    it('exactly one of two concurrent re-drives wins; the other is 409 redrive_in_progress', async () => {
      const device = `race-${kind}`;
      await api.registry.devices.register({ id: device, name: null });
      const before = api.registry.pipeline.stats().totalValid;
      for (let round = 0; round < 5; round += 1) {
        const id = await letterFor(device, 100 + round);
        const path = `/api/v1/dead-letters/${id}/redrive`;
        const answers = await Promise.all(
          [0, 1].map(() => call(api.base, 'POST', path, { token: api.tokens.operator })),
        );
        const statuses = answers.map((answer) => answer.status).sort();
        expect(statuses, `round ${round}: ${JSON.stringify(answers.map((a) => a.body))}`).toEqual([200, 409]);
        const won = answers.find((answer) => answer.status === 200);
        const lost = answers.find((answer) => answer.status === 409);
        expect(won?.body).toMatchObject({ outcome: 'accepted', accepted: 1 });
        expect(lost?.body).toMatchObject({ error: { code: 'conflict', details: { reason: 'redrive_in_progress' } } });

        // Once the winner has finished, another re-drive is allowed and finds it stored.
        const again = await call(api.base, 'POST', path, { token: api.tokens.operator });
        expect(again.status).toBe(200);
        expect(again.body).toMatchObject({ outcome: 'duplicate' });
      }
      // Each reading committed once, and counted once.
      const page = await api.store.readingPage({
        device,
        fromMs: 0,
        toMs: Date.now() + 60_000,
        limit: 10,
        after: null,
      });
      expect(page.items.map((reading) => reading.seq).sort()).toEqual([100, 101, 102, 103, 104]);
      expect(api.registry.pipeline.stats().totalValid - before).toBe(5);
    });
  });
}
