/**
 * A failed PGlite open names the folder and keeps PGlite's message; on a nearly full disk (PGlite then
 * only says "Aborted()") it names the disk. Free space is injected: filling a disk is not a unit test.
 */
import { describe, expect, it } from 'vitest';
import { describeOpenFailure, LOW_DISK_BYTES } from '../../src/store/pglite-open-errors.js';

const aborted = new Error('Aborted(). Build with -sASSERTIONS for more info.');

describe('describeOpenFailure', () => {
  it('names a nearly full disk as the likely cause', async () => {
    const error = await describeOpenFailure(aborted, '/srv/hub/data', () => Promise.resolve(3 * 1024 * 1024));
    expect(error.message).toBe(
      'store: PGlite could not open the data folder /srv/hub/data (Aborted(). Build with -sASSERTIONS for more info.)' +
        '; the disk holding it has 3 MiB free, which is the likely cause: free space and start again',
    );
    expect(error.cause).toBe(aborted);
  });

  it('says nothing of the disk when it has room or cannot be measured', async () => {
    for (const free of [LOW_DISK_BYTES, null]) {
      const error = await describeOpenFailure(aborted, 'data', () => Promise.resolve(free));
      expect(error.message).toBe(
        'store: PGlite could not open the data folder data (Aborted(). Build with -sASSERTIONS for more info.)',
      );
    }
  });

  it('measures the real folder by default', async () => {
    const error = await describeOpenFailure(new Error('boom'), process.cwd());
    expect(error.message).toMatch(/^store: PGlite could not open the data folder .+ \(boom\)/);
  });
});
