/**
 * Two re-drives of one dead letter at the same moment: exactly one re-drives it and reports so; the
 * other is told `409 conflict` (`redrive_in_progress`) and commits nothing. A re-drive after the first
 * finished is still allowed (and reports a duplicate). Over a real app on PGlite, and on the PostgreSQL
 * server when it answers (where two hubs share the store). The first test holds the first re-drive at
 * the pipeline's door, so the overlap is certain (before the claim, the second re-drove too and reported
 * a duplicate); the second sends pairs at once, as an operator would, where the order is up to timing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startApiHarness, type ApiHarness } from '../support/api-harness.js';
import { failIfRequired, pgAvailability } from '../support/postgres.js';

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const postgres = await pgAvailability();
const stores = [
  { kind: 'pglite', skip: null },
  { kind: 'postgres', skip: postgres.available ? null : postgres.reason },
] as const;

for (const { kind, skip } of stores) {
  describe.skipIf(skip !== null)(`concurrent re-drives of one dead letter on ${kind}`, () => {
    let api: ApiHarness;
    /** Re-drives that reached the pipeline; while `held` is set, each waits for it there. */
    let entered = 0;
    let held: Promise<void> | null = null;
    beforeAll(async () => {
      failIfRequired(postgres);
      api = await startApiHarness(kind, {
        beforeRedrive: async () => {
          entered += 1;
          await held;
        },
      });
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

    it('a re-drive while another of the same letter is running is 409 redrive_in_progress and does nothing', async () => {
      const device = `held-${kind}`;
      await api.registry.devices.register({ id: device, name: null });
      const id = await letterFor(device, 7);
      const path = `/api/v1/dead-letters/${id}/redrive`;
      let release = (): void => undefined;
      held = new Promise<void>((resolve) => (release = resolve));
      const before = entered;
      try {
        const first = call(api.base, 'POST', path, { token: api.tokens.operator });
        await waitFor(() => entered === before + 1);
        // The first holds the letter: the second is answered at once, without reaching the pipeline.
        const second = await Promise.race([
          call(api.base, 'POST', path, { token: api.tokens.operator }),
          new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 3000)),
        ]);
        expect(second === 'blocked' ? 'blocked (it re-drove too)' : second.status).toBe(409);
        expect(second === 'blocked' ? null : second.body).toMatchObject({
          error: { code: 'conflict', details: { reason: 'redrive_in_progress' } },
        });
        expect(entered).toBe(before + 1);
        release();
        expect(await first).toMatchObject({ status: 200, body: { outcome: 'accepted', accepted: 1 } });
      } finally {
        held = null;
        release();
      }
      // Finished, the letter may be re-driven again: its reading is already stored.
      expect(await call(api.base, 'POST', path, { token: api.tokens.operator })).toMatchObject({
        status: 200,
        body: { outcome: 'duplicate' },
      });
      const listed = await call(api.base, 'GET', `/api/v1/dead-letters?device=${device}`, { token: api.tokens.viewer });
      expect((listed.body as { items: unknown[] }).items[0]).toMatchObject({ id, redriveOutcome: 'duplicate' });
    });

    it('two re-drives sent at once never both accept the letter; each reading is stored and counted once', async () => {
      const device = `race-${kind}`;
      await api.registry.devices.register({ id: device, name: null });
      const before = api.registry.pipeline.stats().totalValid;
      for (let round = 0; round < 5; round += 1) {
        const id = await letterFor(device, 100 + round);
        const path = `/api/v1/dead-letters/${id}/redrive`;
        const answers = await Promise.all(
          [0, 1].map(() => call(api.base, 'POST', path, { token: api.tokens.operator })),
        );
        const outcomes = answers
          .map((answer) =>
            answer.status === 200
              ? (answer.body as { outcome: string }).outcome
              : `${answer.status} ${(answer.body as { error?: { details?: { reason?: string } } }).error?.details?.reason}`,
          )
          .sort();
        // At once: one wins and the other is refused. One after the other (the second request was slower
        // to arrive than the first to finish): the second finds it stored. Never two 'accepted'.
        expect([
          ['409 redrive_in_progress', 'accepted'],
          ['accepted', 'duplicate'],
        ]).toContainEqual(outcomes);
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
