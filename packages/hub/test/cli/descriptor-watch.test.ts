/**
 * The descriptor watch: its start warning, one warning per episode near the limit, the all-clear, and
 * the reading of this process's real descriptors from /proc.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { DEMO_DEFAULTS } from '../../src/cli/demo-defaults.js';
import {
  descriptorBudget,
  readDescriptorUse,
  startDescriptorWatch,
  type DescriptorReading,
} from '../../src/cli/descriptor-watch.js';

function capture(): { logger: pino.Logger; lines: () => Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines: () => lines };
}

/** A reader that returns the given readings in turn, then the last one again; `calls` counts reads. */
function scripted(readings: DescriptorReading[]): { read: () => Promise<DescriptorReading>; calls: () => number } {
  let next = 0;
  return {
    read: () => Promise.resolve(readings[Math.min(next++, readings.length - 1)] ?? null),
    calls: () => next,
  };
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('descriptor watch', () => {
  it('warns at start when the connection bounds do not fit under the limit', async () => {
    const { logger, lines } = capture();
    const watch = startDescriptorWatch({ logger, budget: 15_256, read: scripted([{ open: 40, limit: 1024 }]).read });
    await watch.ready;
    watch.stop();
    await tick(20);
    expect(lines().map((line) => line.msg)).toEqual([
      expect.stringContaining('the connection bounds allow more open connections than this process may open'),
    ]);
  });

  it('warns once near the limit, clears under 80 %, warns again on the next episode', async () => {
    const { logger, lines } = capture();
    const readings: DescriptorReading[] = [
      { open: 100, limit: 1000 }, // start
      { open: 100, limit: 1000 }, // first check
      { open: 905, limit: 1000 }, // warn
      { open: 999, limit: 1000 }, // still warned: silent
      'exhausted', // still warned: silent
      { open: 850, limit: 1000 }, // between 80 and 90 %: silent
      { open: 700, limit: 1000 }, // clear
      'exhausted', // warn again
    ];
    const reader = scripted(readings);
    const watch = startDescriptorWatch({ logger, budget: 500, read: reader.read, intervalMs: 5 });
    await watch.ready;
    // Every scripted reading used, however slow the machine (bounded).
    for (let waited = 0; reader.calls() <= readings.length && waited < 5000; waited += 10) await tick(10);
    watch.stop();
    const messages = lines().map((line) => line.msg);
    expect(messages).toHaveLength(3);
    expect(messages[0]).toContain('file descriptors nearly exhausted');
    expect(messages[1]).toContain('back under 80 %');
    expect(messages[2]).toContain('file descriptors exhausted');
  });

  it("reads this process's open descriptors and its limit", async () => {
    const use = await readDescriptorUse();
    if (process.platform !== 'linux') return expect(use).toBeNull();
    if (use === null || use === 'exhausted') throw new Error(`unexpected reading ${String(use)}`);
    expect(use.open).toBeGreaterThan(2); // at least stdin, stdout, stderr
    expect(use.limit).toBeGreaterThanOrEqual(use.open);
  });

  it('budgets every enabled listener, the monitor port and the pool', () => {
    const loaded = loadConfig(
      ['--max-connections', '1000', '--legacy-port', 'off', '--monitor-port', '9100'],
      {
        DATABASE_URL: 'postgres://u@h/db',
        SEALSTREAM_DEVICE_KEYS: `k:${'ab'.repeat(32)}`,
        SEALSTREAM_JWT_SECRET: 'j'.repeat(32),
      },
      DEMO_DEFAULTS,
    );
    if (!loaded.ok) throw new Error(loaded.errors.join('; '));
    // native + HTTP listeners, 64 monitor connections, a pool of 8, 256 reserved.
    expect(descriptorBudget(loaded.config)).toBe(2 * 1000 + 64 + 8 + 256);
  });
});
