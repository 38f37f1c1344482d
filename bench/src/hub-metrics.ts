/**
 * Reads the hub's own Prometheus counters at the start and the end of a scenario's timed phase, to explain
 * a rate or a latency: how many commits, how big, how long each took, and where the tail starts. Missing
 * metrics read as null rather than failing the run.
 */
export interface CommitFigures {
  readonly commits: number | null;
  readonly avgBatchRows: number | null;
  readonly avgCommitMs: number | null;
  readonly commitSecondsTotal: number | null;
  /** Mean time a frame waited from entering the commit queue until durable (queue wait plus commit). */
  readonly avgSubmissionMs: number | null;
  /** Shares of submissions slower than 10, 25 and 50 ms in the hub: where a latency tail starts. */
  readonly submissionsOverMs: { readonly 10: number; readonly 25: number; readonly 50: number } | null;
  /** Shares of commits slower than 10, 25 and 50 ms: whether a submission's tail is the store's or the queue's. */
  readonly commitsOverMs: { readonly 10: number; readonly 25: number; readonly 50: number } | null;
  /** Mean and tail shares of the live fan-out's delay: oldest commit in a data send → the send. */
  readonly avgLiveSendDelayMs: number | null;
  readonly liveSendsOverMs: { readonly 10: number; readonly 25: number; readonly 50: number } | null;
  /**
   * The hub's event-loop delay since the previous scrape (prom-client resets its histogram on each one,
   * so a scrape at the start of the timed phase makes these the phase's own): what a tail owes to pauses.
   * Node's histogram times a repeating 10 ms timer, so an idle loop reads ~10 ms; that interval is
   * subtracted here, leaving how long the loop was held past it.
   */
  readonly eventLoopDelayP99Ms: number | null;
  readonly eventLoopDelayMaxMs: number | null;
  /** Garbage-collection pauses between the two scrapes (wall-clock, so waiting for a core counts). */
  readonly gcPauseSeconds: number | null;
  readonly gcPauses: number | null;
  /** MQTT: mean sealed frames per handled message (null without MQTT ingest). */
  readonly mqttFramesPerMessage: number | null;
}

/** The raw counters and gauges behind CommitFigures, as one scrape of /metrics read them. */
export interface HubCounters {
  readonly values: ReadonlyMap<string, number>;
}

const EMPTY: HubCounters = { values: new Map() };

/** Series summed over their label sets (a scaled role's series carry role and instance too). */
const COUNTERS = [
  'sealstream_commit_seconds_count',
  'sealstream_commit_seconds_sum',
  'sealstream_batch_readings_sum',
  'sealstream_batch_readings_count',
  'sealstream_submission_seconds_count',
  'sealstream_submission_seconds_sum',
  'sealstream_nodejs_eventloop_lag_p99_seconds',
  'sealstream_nodejs_eventloop_lag_max_seconds',
  'sealstream_nodejs_gc_duration_seconds_sum',
  'sealstream_nodejs_gc_duration_seconds_count',
  'sealstream_mqtt_message_frames_sum',
  'sealstream_mqtt_message_frames_count',
  'sealstream_live_send_delay_seconds_count',
  'sealstream_live_send_delay_seconds_sum',
] as const;
const TAIL_BOUNDS = ['0.01', '0.025', '0.05'] as const;
const TAIL_HISTOGRAMS = [
  'sealstream_submission_seconds',
  'sealstream_commit_seconds',
  'sealstream_live_send_delay_seconds',
] as const;

/** One scrape of the hub's /metrics; a hub that does not answer reads as no counters at all. */
export async function readHubCounters(httpPort: number): Promise<HubCounters> {
  let text: string;
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
    text = await response.text();
  } catch {
    return EMPTY;
  }
  const values = new Map<string, number>();
  const add = (key: string, value: number): void => {
    values.set(key, (values.get(key) ?? 0) + value);
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    for (const name of COUNTERS) {
      const rest = line.slice(name.length);
      if (line.startsWith(name) && (rest[0] === ' ' || rest[0] === '{')) add(name, value);
    }
    for (const histogram of TAIL_HISTOGRAMS) {
      if (!line.startsWith(`${histogram}_bucket{`)) continue;
      for (const le of TAIL_BOUNDS) if (line.includes(`le="${le}"`)) add(`${histogram}:${le}`, value);
    }
  }
  return { values };
}

/**
 * What the hub did between two scrapes (`start` omitted: over its whole life so far). Counters are
 * subtracted, so a warm-up before `start` is not in the figures; the event-loop gauges are prom-client's
 * own since the previous scrape, so they are `end`'s.
 */
export function commitFiguresBetween(end: HubCounters, start: HubCounters = EMPTY): CommitFigures {
  const at = (counters: HubCounters, key: string): number | null => counters.values.get(key) ?? null;
  const delta = (key: string): number | null => {
    const last = at(end, key);
    return last === null ? null : last - (at(start, key) ?? 0);
  };
  const commits = delta('sealstream_commit_seconds_count');
  const commitSeconds = delta('sealstream_commit_seconds_sum');
  const submissions = delta('sealstream_submission_seconds_count');
  const submissionSeconds = delta('sealstream_submission_seconds_sum');
  const tail = (histogram: string, count: number | null): CommitFigures['submissionsOverMs'] => {
    if (!count) return null;
    const over = (le: string): number => Math.round((1 - (delta(`${histogram}:${le}`) ?? 0) / count) * 10_000) / 10_000;
    return { 10: over('0.01'), 25: over('0.025'), 50: over('0.05') };
  };
  return {
    commits,
    avgBatchRows: ratio(delta('sealstream_batch_readings_sum'), delta('sealstream_batch_readings_count'), 0),
    avgCommitMs: commitSeconds !== null && commits ? Math.round((commitSeconds / commits) * 10_000) / 10 : null,
    commitSecondsTotal: commitSeconds === null ? null : Math.round(commitSeconds * 100) / 100,
    avgSubmissionMs:
      submissionSeconds !== null && submissions ? Math.round((submissionSeconds / submissions) * 10_000) / 10 : null,
    submissionsOverMs: tail('sealstream_submission_seconds', submissions),
    commitsOverMs: tail('sealstream_commit_seconds', commits),
    avgLiveSendDelayMs: ratio(
      millisOrNull(delta('sealstream_live_send_delay_seconds_sum')),
      delta('sealstream_live_send_delay_seconds_count'),
    ),
    liveSendsOverMs: tail('sealstream_live_send_delay_seconds', delta('sealstream_live_send_delay_seconds_count')),
    eventLoopDelayP99Ms: loopDelay(at(end, 'sealstream_nodejs_eventloop_lag_p99_seconds')),
    eventLoopDelayMaxMs: loopDelay(at(end, 'sealstream_nodejs_eventloop_lag_max_seconds')),
    gcPauseSeconds: delta('sealstream_nodejs_gc_duration_seconds_sum'),
    gcPauses: delta('sealstream_nodejs_gc_duration_seconds_count'),
    mqttFramesPerMessage: ratio(
      delta('sealstream_mqtt_message_frames_sum'),
      delta('sealstream_mqtt_message_frames_count'),
    ),
  };
}

function ratio(sum: number | null, count: number | null, digits = 1): number | null {
  const scale = 10 ** digits;
  return sum === null || !count ? null : Math.round((sum / count) * scale) / scale;
}

/** Mean and maximum of one gauge of the hub, sampled from /metrics every `everyMs` until `stop()`. */
export function sampleGauge(
  httpPort: number,
  name: string,
  everyMs: number,
): { stop(): { mean: number | null; max: number | null; samples: number } } {
  const values: number[] = [];
  const timer = setInterval(() => {
    fetch(`http://127.0.0.1:${httpPort}/metrics`)
      .then((response) => response.text())
      .then((text) => {
        const line = text.split('\n').find((l) => l.startsWith(`${name} `));
        const value = line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
        if (Number.isFinite(value)) values.push(value);
      })
      .catch(() => undefined);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      if (values.length === 0) return { mean: null, max: null, samples: 0 };
      const mean = values.reduce((total, value) => total + value, 0) / values.length;
      return { mean: Math.round(mean * 10) / 10, max: Math.max(...values), samples: values.length };
    },
  };
}

/** prom-client's sampling interval (its default eventLoopMonitoringPrecision), in seconds. */
const LOOP_SAMPLING_SECONDS = 0.01;

function loopDelay(seconds: number | null): number | null {
  return seconds === null ? null : millis(Math.max(0, seconds - LOOP_SAMPLING_SECONDS));
}

function millisOrNull(seconds: number | null): number | null {
  return seconds === null ? null : seconds * 1000;
}

function millis(seconds: number | null): number | null {
  return seconds === null ? null : Math.round(seconds * 10_000) / 10;
}
