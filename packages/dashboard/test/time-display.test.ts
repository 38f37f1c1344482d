/**
 * One time format across the dashboard's views: every time shown as a value (tables, notices, titles)
 * goes through formatDateTime ("2026-12-07 14:03:07", local time). Chart axes alone use the shorter
 * formatClock or formatTimeTick for their tick labels (24-hour too), and nothing shows raw ISO (UTC) or
 * locale-dependent strings.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatDateTime } from '../src/format.js';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : /\.tsx?$/.test(entry.name) ? [join(dir, entry.name)] : [],
  );
}

describe('time display', () => {
  it('formats every displayed time one way (formatClock only for chart axis ticks)', () => {
    const problems: string[] = [];
    for (const file of sources(SRC)) {
      if (file.endsWith('format.ts')) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, index) => {
          const where = `${file.slice(SRC.length + 1)}:${index + 1}`;
          if (/toISOString\(|toLocale(Date|Time)?String\(/.test(line)) problems.push(`${where}: ${line.trim()}`);
          if (/formatClock\(/.test(line) && !/splits\.map/.test(line) && !/^import /.test(line.trim())) {
            problems.push(`${where}: ${line.trim()}`);
          }
        });
    }
    expect(problems).toEqual([]);
  });

  it('labels every time axis itself (uPlot defaults to 12-hour, US-dated labels: "7:30pm", "12/7/26")', () => {
    const charts = sources(SRC).filter((file) => /time: true/.test(readFileSync(file, 'utf8')));
    expect(charts.length).toBeGreaterThan(0);
    for (const file of charts) {
      expect(readFileSync(file, 'utf8'), file).toMatch(/formatClock\(split \* 1000\)|formatTimeTick\(/);
    }
  });

  it('shows the date with the time', () => {
    expect(formatDateTime(new Date(2026, 11, 7, 14, 3, 7).getTime())).toBe('2026-12-07 14:03:07');
  });
});
