/**
 * The PostgreSQL executor keeps reusable write statements prepared: one server-side prepared statement
 * per text and connection, reused on every later write, never more than MAX_PREPARED_TEXTS texts, and
 * the results are those of the unprepared statement. Checked on a one-connection pool through the
 * server's own pg_prepared_statements view.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_PREPARED_TEXTS, PostgresExecutor } from '../../src/store/postgres-executor.js';
import { dropTestSchema, failIfRequired, pgAvailability, pgTestUrl, uniqueTestSchema } from '../support/postgres.js';

const availability = await pgAvailability();
const skipReason = availability.available ? null : availability.reason;

describe.skipIf(skipReason !== null)(
  `prepared writes on the PostgreSQL server${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    const schema = uniqueTestSchema('prep');
    let executor: PostgresExecutor;

    beforeAll(async () => {
      failIfRequired(availability);
      executor = await PostgresExecutor.open({ url: pgTestUrl(), schema, poolSize: 1 });
      await executor.query('CREATE TABLE notes (id integer PRIMARY KEY, body text NOT NULL)');
    });
    afterAll(async () => {
      await executor?.close();
      await dropTestSchema(schema);
    });

    const preparedTexts = async (): Promise<string[]> =>
      (await executor.query(`SELECT statement FROM pg_prepared_statements WHERE name LIKE 'sealstream\\_%'`)).map(
        (row) => String(row['statement']),
      );

    it('a reused text is prepared once and then executed by name; plain writes are not prepared', async () => {
      const insert = 'INSERT INTO notes (id, body) VALUES ($1, $2) RETURNING id';
      expect(await executor.write(insert, [1, 'one'], { reuse: true })).toEqual([{ id: 1 }]);
      expect(await executor.write(insert, [2, 'two'], { reuse: true })).toEqual([{ id: 2 }]);
      await executor.write('INSERT INTO notes (id, body) VALUES ($1, $2)', [3, 'three']);
      expect(await preparedTexts()).toEqual([insert]);
      expect(await executor.query('SELECT id, body FROM notes ORDER BY id')).toEqual([
        { id: 1, body: 'one' },
        { id: 2, body: 'two' },
        { id: 3, body: 'three' },
      ]);
      // A failing execution (duplicate key) leaves the prepared statement usable.
      await expect(executor.write(insert, [1, 'again'], { reuse: true })).rejects.toMatchObject({ code: '23505' });
      expect(await executor.write(insert, [4, 'four'], { reuse: true })).toEqual([{ id: 4 }]);
      expect(await preparedTexts()).toEqual([insert]);
    });

    it(`at most ${MAX_PREPARED_TEXTS} texts are prepared; later texts still run, unprepared`, async () => {
      const texts = Array.from(
        { length: MAX_PREPARED_TEXTS + 8 },
        (_, i) => `INSERT INTO notes (id, body) VALUES ($1, $2 || '-${i}')`,
      );
      for (const [i, text] of texts.entries()) await executor.write(text, [100 + i, 'n'], { reuse: true });
      expect((await preparedTexts()).length).toBe(MAX_PREPARED_TEXTS);
      const rows = await executor.query('SELECT count(*)::int AS n FROM notes WHERE id >= 100');
      expect(rows).toEqual([{ n: texts.length }]);
    });
  },
);
