/**
 * Reads the hub's own Prometheus counters at the end of a scenario, to explain a rate: how many commits,
 * how big, how long each took. Missing metrics read as null rather than failing the run.
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
  /**
   * The hub's event-loop delay since the previous scrape (prom-client resets its histogram on each one,
   * so a scrape at the start of the timed phase makes these the phase's own): what a tail owes to pauses.
   */
  readonly eventLoopDelayP99Ms: number | null;
  readonly eventLoopDelayMaxMs: number | null;
  /** Garbage-collection pauses over the hub's life so far (subtract a start reading for a phase). */
  readonly gcPauseSeconds: number | null;
  readonly gcPauses: number | null;
  /** MQTT: mean sealed frames per handled message (null without MQTT ingest). */
  readonly mqttFramesPerMessage: number | null;
}

export async function readCommitFigures(httpPort: number): Promise<CommitFigures> {
  let text = '';
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
    text = await response.text();
  } catch {
    return {
      commits: null,
      avgBatchRows: null,
      avgCommitMs: null,
      commitSecondsTotal: null,
      avgSubmissionMs: null,
      submissionsOverMs: null,
      eventLoopDelayP99Ms: null,
      eventLoopDelayMaxMs: null,
      gcPauseSeconds: null,
      gcPauses: null,
      mqttFramesPerMessage: null,
    };
  }
  const sample = (name: string): number | null => {
    // Sum over label sets, if any.
    let total: number | null = null;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const rest = line.slice(name.length);
      if (rest[0] !== ' ' && rest[0] !== '{') continue;
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (Number.isFinite(value)) total = (total ?? 0) + value;
    }
    return total;
  };
  const bucket = (name: string, le: string): number | null => {
    let total: number | null = null;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) || !line.includes(`le="${le}"`)) continue;
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (Number.isFinite(value)) total = (total ?? 0) + value;
    }
    return total;
  };
  const commits = sample('sealstream_commit_seconds_count');
  const commitSeconds = sample('sealstream_commit_seconds_sum');
  const batchSum = sample('sealstream_batch_readings_sum');
  const batchCount = sample('sealstream_batch_readings_count');
  const submissions = sample('sealstream_submission_seconds_count');
  const submissionSeconds = sample('sealstream_submission_seconds_sum');
  const overShare = (le: string): number => {
    // Anywhere among the labels: a scaled role's series carry role and instance too.
    const within = bucket('sealstream_submission_seconds_bucket', le) ?? 0;
    return submissions ? Math.round((1 - within / submissions) * 10_000) / 10_000 : 0;
  };
  return {
    commits,
    avgBatchRows: batchSum !== null && batchCount ? Math.round(batchSum / batchCount) : null,
    avgCommitMs: commitSeconds !== null && commits ? Math.round((commitSeconds / commits) * 10_000) / 10 : null,
    commitSecondsTotal: commitSeconds === null ? null : Math.round(commitSeconds * 100) / 100,
    avgSubmissionMs:
      submissionSeconds !== null && submissions ? Math.round((submissionSeconds / submissions) * 10_000) / 10 : null,
    submissionsOverMs: submissions ? { 10: overShare('0.01'), 25: overShare('0.025'), 50: overShare('0.05') } : null,
    eventLoopDelayP99Ms: millis(sample('sealstream_nodejs_eventloop_lag_p99_seconds')),
    eventLoopDelayMaxMs: millis(sample('sealstream_nodejs_eventloop_lag_max_seconds')),
    gcPauseSeconds: sample('sealstream_nodejs_gc_duration_seconds_sum'),
    gcPauses: sample('sealstream_nodejs_gc_duration_seconds_count'),
    mqttFramesPerMessage: ratio(
      sample('sealstream_mqtt_message_frames_sum'),
      sample('sealstream_mqtt_message_frames_count'),
    ),
  };
}

function ratio(sum: number | null, count: number | null): number | null {
  return sum === null || !count ? null : Math.round((sum / count) * 10) / 10;
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

function millis(seconds: number | null): number | null {
  return seconds === null ? null : Math.round(seconds * 10_000) / 10;
}
