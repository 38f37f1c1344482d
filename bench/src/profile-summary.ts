/**
 * `node bench/dist/profile-summary.js FILE.cpuprofile [--top N]`: where a V8 CPU profile (from
 * `node --cpu-prof`) spends its time: self time per function and per category (crypto, JSON, reading
 * validation, SQL building, pg protocol, WASM, GC, socket I/O, ...), as shares of all samples.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** First matching rule wins; order matters (specific before general). */
const CATEGORIES: ReadonlyArray<readonly [string, (frame: CallFrame) => boolean]> = [
  ['idle', (f) => f.functionName === '(idle)'],
  ['GC', (f) => f.functionName === '(garbage collector)'],
  ['WASM (PGlite)', (f) => f.url.startsWith('wasm://') || f.url.includes('@electric-sql/pglite')],
  [
    'crypto',
    (f) =>
      f.url.includes('internal/crypto') ||
      /^(Cipheriv|Decipheriv|createCipheriv|createDecipheriv|createHash|createHmac|randomBytes|timingSafeEqual)$/.test(
        f.functionName,
      ) ||
      f.url.includes('protocol/dist/seal') ||
      f.url.includes('protocol/dist/legacy-token') ||
      f.url.includes('protocol/dist/keys'),
  ],
  ['JSON.parse', (f) => f.functionName === 'parse' && f.url === ''],
  ['JSON.stringify', (f) => f.functionName === 'stringify' && f.url === ''],
  ['reading validation', (f) => f.url.includes('protocol/dist/reading') || f.url.includes('protocol/dist/wire-checks')],
  [
    'frame/line decoding',
    (f) => f.url.includes('protocol/dist/frame-') || f.url.includes('protocol/dist/legacy-lines'),
  ],
  [
    'pg driver / protocol',
    (f) => /node_modules\/(pg|pg-protocol|pg-pool|pg-types|pg-copy-streams|pgpass)\//.test(f.url),
  ],
  ['SQL building / store', (f) => f.url.includes('hub/dist/store/')],
  ['pipeline (open, dedupe, commit queue)', (f) => f.url.includes('hub/dist/pipeline/')],
  ['ingest (tcp, legacy)', (f) => f.url.includes('hub/dist/ingest/')],
  [
    'live fan-out',
    (f) =>
      f.url.includes('hub/dist/live/') ||
      /node_modules\/(socket\.io|engine\.io|ws|socket\.io-parser|socket\.io-adapter)\//.test(f.url),
  ],
  [
    'metrics / logging',
    (f) => /node_modules\/(prom-client|pino)/.test(f.url) || f.url.includes('hub/dist/observability/'),
  ],
  ['HTTP (fastify)', (f) => /node_modules\/(fastify|@fastify|find-my-way|light-my-request)/.test(f.url)],
  [
    'socket I/O & streams',
    (f) =>
      /node:(net|internal\/stream_base_commons|internal\/streams|stream|internal\/net)/.test(f.url) ||
      /^(writev|writeBuffer|writeUtf8String|writeLatin1String|onStreamRead|readStop|readStart)$/.test(f.functionName),
  ],
  ['Buffer / strings', (f) => /node:(buffer|internal\/buffer|string_decoder)/.test(f.url)],
  [
    'timers / promises / events',
    (f) => /node:(internal\/timers|timers|events|internal\/process\/task_queues)/.test(f.url),
  ],
  ['(program) native, unattributed', (f) => f.functionName === '(program)'],
  ['other builtins (no url)', (f) => f.url === ''],
];

export function summarise(profile: CpuProfile, top = 25): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfByNode = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    const id = profile.samples[i] as number;
    const delta = profile.timeDeltas[i] ?? 0;
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + delta);
    total += delta;
  }
  const byFunction = new Map<string, number>();
  const byCategory = new Map<string, number>();
  for (const [id, micros] of selfByNode) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const file = frame.url.replace(/^.*\/(node_modules|packages)\//, '$1/');
    const key = `${frame.functionName || '(anonymous)'}  ${file}${frame.url === '' ? '' : `:${frame.lineNumber + 1}`}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
    const category =
      CATEGORIES.find(([, test]) => test(frame))?.[0] ?? `other: ${file.split('/').slice(0, 3).join('/')}`;
    byCategory.set(category, (byCategory.get(category) ?? 0) + micros);
  }
  const idle = byCategory.get('idle') ?? 0;
  const busy = total - idle;
  const line = (name: string, micros: number): string =>
    `${((micros / total) * 100).toFixed(1).padStart(5)}%  ${name === 'idle' || name === '(idle)  ' ? '      ' : `${((micros / busy) * 100).toFixed(1).padStart(5)}%`}  ${(micros / 1e6).toFixed(2).padStart(7)} s  ${name}`;
  const sorted = (map: Map<string, number>): Array<[string, number]> => [...map.entries()].sort((a, b) => b[1] - a[1]);
  return [
    `profile: ${(total / 1e6).toFixed(1)} s sampled, ${((busy / total) * 100).toFixed(1)}% busy (not idle)`,
    '',
    'by category (self time: share of all samples, share of busy samples, seconds):',
    ...sorted(byCategory)
      .filter(([, micros]) => micros / total >= 0.003)
      .map(([name, micros]) => line(name, micros)),
    line(
      'everything else (each < 0.3%)',
      [...byCategory.values()].filter((m) => m / total < 0.003).reduce((a, b) => a + b, 0),
    ),
    '',
    `top ${top} functions by self time:`,
    ...sorted(byFunction)
      .slice(0, top)
      .map(([name, micros]) => line(name, micros)),
  ].join('\n');
}

function main(): number {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' } },
  });
  const file = positionals[0];
  if (file === undefined) {
    console.error('usage: node bench/dist/profile-summary.js FILE.cpuprofile [--top N]');
    return 2;
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  console.log(summarise(profile, Number(values.top)));
  return 0;
}

process.exitCode = main();
