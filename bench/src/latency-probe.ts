/**
 * The latency probe: a live subscriber (live-subscriber.ts) following a sample of devices, run inside
 * the bench process (the default) or in a process of its own, as a dashboard would be. Alternating runs
 * at 20K readings/s showed no difference beyond noise (p99 23, 22, 18, 12 ms in its own process against
 * 16, 15, 18, 21 inline): on two cores the extra process costs about what it saves. It also keeps the
 * hub's latest `stats` event, which is how the bench follows commits that have no acknowledgement
 * (legacy lines).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LiveStats } from '@sealstream/protocol';
import { connectLiveSubscriber } from './live-subscriber.js';
import { processCpuSeconds } from './hub-process.js';
import { LatencySamples } from './percentiles.js';

export type ProbePlacement = 'process' | 'inline';

export interface ProbeResult {
  /** Latencies since startTimedPhase() (all of them if it was never called). */
  readonly samples: LatencySamples;
  /** Latencies before startTimedPhase(): the warm-up, reported apart so a cold start stays visible. */
  readonly warmup: LatencySamples;
  /** The timed phase's latencies split at the hub's commit: creation to commit, and commit to arrival. */
  readonly toCommit: LatencySamples;
  readonly afterCommit: LatencySamples;
  /** Readings the hub's per-client cap dropped for this subscriber (0 means the sample is complete). */
  readonly dropped: number;
}

export interface LatencyProbe {
  latestStats(): LiveStats | undefined;
  /** CPU seconds of the probe's own process so far; 0 when it runs inside the bench. */
  cpuSeconds(): number;
  /** From now on latencies count as the timed phase's; those before are the warm-up's. */
  startTimedPhase(): void;
  /** Stops subscribing and returns what was measured. */
  finish(): Promise<ProbeResult>;
  /** Ends the probe without a result (a scenario that failed); harmless after finish(). */
  close(): void;
}

const CHILD = fileURLToPath(new URL('./latency-probe-child.js', import.meta.url));

export async function startLatencyProbe(
  httpPort: number,
  devices: readonly string[],
  token: string,
  placement: ProbePlacement,
): Promise<LatencyProbe> {
  return placement === 'inline' ? startInline(httpPort, devices, token) : startChild(httpPort, devices, token);
}

async function startInline(httpPort: number, devices: readonly string[], token: string): Promise<LatencyProbe> {
  let samples = new LatencySamples();
  let warmup = new LatencySamples();
  let toCommit = new LatencySamples();
  let afterCommit = new LatencySamples();
  let dropped = 0;
  let stats: LiveStats | undefined;
  const subscriber = await connectLiveSubscriber(httpPort, devices, token, {
    onLatency: (ms, toCommitMs) => {
      samples.add(ms);
      toCommit.add(toCommitMs);
      afterCommit.add(ms - toCommitMs);
    },
    onDropped: (count) => {
      dropped += count;
    },
    onStats: (latest) => {
      stats = latest;
    },
  });
  return {
    latestStats: () => stats,
    cpuSeconds: () => 0,
    startTimedPhase: () => {
      warmup = samples;
      samples = new LatencySamples();
      toCommit = new LatencySamples();
      afterCommit = new LatencySamples();
    },
    finish: () => {
      subscriber.close();
      return Promise.resolve({ samples, warmup, toCommit, afterCommit, dropped });
    },
    close: () => subscriber.close(),
  };
}

type ChildMessage =
  | { type: 'ready' }
  | { type: 'stats'; stats: LiveStats }
  | {
      type: 'samples';
      values: number[];
      seen: number;
      warmup: { values: number[]; seen: number };
      toCommit: { values: number[]; seen: number };
      afterCommit: { values: number[]; seen: number };
      dropped: number;
    }
  | { type: 'error'; message: string };

async function startChild(httpPort: number, devices: readonly string[], token: string): Promise<LatencyProbe> {
  const child: ChildProcess = fork(CHILD, [String(httpPort), token, ...devices], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let stats: LiveStats | undefined;
  let result: ((message: Extract<ChildMessage, { type: 'samples' }>) => void) | undefined;
  let failure: ((error: Error) => void) | undefined;
  child.on('message', (message: ChildMessage) => {
    if (message.type === 'stats') stats = message.stats;
    else if (message.type === 'samples') result?.(message);
    else if (message.type === 'error') failure?.(new Error(`latency probe: ${message.message}`));
  });
  child.once('exit', (code) => {
    // Messages the child sent just before exiting may still be on their way: give them a moment.
    setTimeout(() => failure?.(new Error(`latency probe exited (${String(code)}) before answering`)), 1000);
  });
  await new Promise<void>((resolve, reject) => {
    failure = reject;
    const timer = setTimeout(() => reject(new Error('latency probe did not subscribe in time')), 15_000);
    child.on('message', (message: ChildMessage) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve();
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  const pid = child.pid ?? -1;
  let lastCpu = 0;
  const cpuSeconds = (): number => {
    // Once the child has exited /proc no longer has it: keep the last reading.
    lastCpu = processCpuSeconds(pid) ?? lastCpu;
    return lastCpu;
  };
  return {
    latestStats: () => stats,
    cpuSeconds,
    startTimedPhase: () => {
      if (child.connected) child.send({ type: 'timed' });
    },
    finish: () =>
      new Promise<ProbeResult>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error('latency probe did not answer in time'));
        }, 15_000);
        failure = (error) => {
          clearTimeout(timer);
          reject(error);
        };
        result = (message) => {
          clearTimeout(timer);
          failure = undefined;
          resolve({
            samples: LatencySamples.fromSnapshot(message),
            warmup: LatencySamples.fromSnapshot(message.warmup),
            toCommit: LatencySamples.fromSnapshot(message.toCommit),
            afterCommit: LatencySamples.fromSnapshot(message.afterCommit),
            dropped: message.dropped,
          });
        };
        cpuSeconds();
        if (!child.connected) {
          clearTimeout(timer);
          reject(new Error(`latency probe exited (${String(child.exitCode)}) before answering`));
          return;
        }
        child.send({ type: 'finish' });
      }),
    close: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
