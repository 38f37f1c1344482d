/**
 * The history view: pick devices and a time range, see the API's aggregated series (bucket width
 * chosen to fit the chart's width: 1m, 5m, 1h or 1d) for a metric and statistic, and one device's raw
 * readings with CSV export.
 */
import { memo, useCallback, useId, useMemo, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { ApiClient } from '../api/api-client.js';
import { fetchDevices } from '../api/device-api.js';
import type { BucketWidth, SeriesPoint, TimeRange } from '../api/history-api.js';
import { fetchMetricNames, fetchSeries } from '../api/history-api.js';
import { DevicePicker } from '../components/DevicePicker.js';
import { HistoryChart } from '../components/HistoryChart.js';
import { RawReadings } from '../components/RawReadings.js';
import { formatDateTime } from '../format.js';
import type { Statistic } from '../history-series.js';
import { alignSeries, chooseBucketWidth, defaultMetric, mergeMetricNames } from '../history-series.js';
import type { RangeChoice, RangePreset } from '../time-range.js';
import { PRESETS, resolveRange, toLocalInput } from '../time-range.js';
import { useFetched, valueOf } from '../use-fetched.js';

interface HistoryViewProps {
  readonly api: ApiClient;
}

interface QueryResult {
  readonly range: TimeRange;
  readonly width: BucketWidth;
  readonly chartWidth: number;
  readonly series: ReadonlyMap<string, readonly SeriesPoint[]>;
  /** Every metric the devices have (the picker), and the ones `series` carries. */
  readonly names: readonly string[];
  readonly fetched: readonly string[];
  readonly devices: readonly string[];
  readonly errors: readonly string[];
}

/** Metrics asked for before one is chosen: the default is picked among these (one that varies). */
const DEFAULT_CANDIDATES = 8;

const STATISTICS: ReadonlyArray<readonly [Statistic, string]> = [
  ['avg', 'average'],
  ['min', 'minimum'],
  ['max', 'maximum'],
  ['count', 'readings with the metric'],
  ['valid', 'valid readings'],
  ['invalid', 'rejects'],
];

function HistoryViewComponent({ api }: HistoryViewProps) {
  const loadDevices = useCallback((signal: AbortSignal) => fetchDevices(api, signal), [api]);
  const { loaded: devicesLoaded } = useFetched(loadDevices);
  const devices = valueOf(devicesLoaded)?.items ?? [];
  const [selected, setSelected] = useState<string[]>([]);
  const [choice, setChoice] = useState<RangeChoice>(() => {
    const now = Date.now();
    return { preset: '1h', from: toLocalInput(now - 3_600_000), to: toLocalInput(now) };
  });
  const [metric, setMetric] = useState<string | null>(null);
  const [statistic, setStatistic] = useState<Statistic>('avg');
  const [result, setResult] = useState<QueryResult | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [rawDevice, setRawDevice] = useState<string | null>(null);
  const chartWidthRef = useRef(0);
  const formRef = useRef<HTMLFormElement>(null);
  const presetId = useId();
  const fromId = useId();
  const toId = useId();
  const metricId = useId();
  const statisticId = useId();
  const rawId = useId();

  /**
   * The series of `query.devices` for the metric drawn only (`wanted`, or before one is chosen a few
   * candidates to pick the default from): a device may have hundreds of metrics, and asking for all of
   * them once made one answer 85 MB.
   */
  const load = async (
    query: { range: TimeRange; width: BucketWidth; chartWidth: number; devices: readonly string[] },
    wanted: string | null,
  ): Promise<void> => {
    setBusy(true);
    setError(null);
    const controller = new AbortController();
    const { devices: devicesNow } = query;
    const errors: string[] = [];
    const nameLists = await Promise.all(devicesNow.map((device) => fetchMetricNames(api, device, controller.signal)));
    const lists: string[][] = [];
    nameLists.forEach((answer, index) => {
      if (answer.ok) lists.push(answer.value);
      else errors.push(`${devicesNow[index] ?? ''}: ${answer.error}`);
    });
    const names = mergeMetricNames(lists);
    const fetched = wanted !== null && names.includes(wanted) ? [wanted] : names.slice(0, DEFAULT_CANDIDATES);
    const answers = await Promise.all(
      devicesNow.map((device) => fetchSeries(api, device, query.range, query.width, fetched, controller.signal)),
    );
    setBusy(false);
    const series = new Map<string, readonly SeriesPoint[]>();
    answers.forEach((answer, index) => {
      const device = devicesNow[index] ?? '';
      if (answer.ok) series.set(device, answer.value);
      else errors.push(`${device}: ${answer.error}`);
    });
    setMetric(wanted !== null && names.includes(wanted) ? wanted : defaultMetric(series.values()));
    setRawDevice((current) => (current !== null && devicesNow.includes(current) ? current : (devicesNow[0] ?? null)));
    setResult({ ...query, series, names, fetched, errors });
  };

  /** A metric the last answer does not carry is fetched for the same devices and range. */
  const chooseMetric = (name: string | null): void => {
    setMetric(name);
    if (result !== null && name !== null && !result.fetched.includes(name)) {
      void load(result, name);
    }
  };

  const run = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    if (selected.length === 0) {
      setError('Pick at least one device.');
      return;
    }
    const range = resolveRange(choice, Date.now());
    if ('error' in range) {
      setError(range.error);
      return;
    }
    // The chart's width once drawn; before that, the form's (the chart spans the same panel width).
    const chartWidth = chartWidthRef.current > 0 ? chartWidthRef.current : (formRef.current?.clientWidth ?? 1000);
    const width = chooseBucketWidth(range.to - range.from, chartWidth);
    void load({ range, width, chartWidth, devices: [...selected] }, metric);
  };

  const metrics = result?.names ?? [];
  const aligned = useMemo(
    () => (result === null ? null : alignSeries(result.series, metric, statistic)),
    [result, metric, statistic],
  );
  const onWidth = useCallback((width: number) => (chartWidthRef.current = width), []);
  const statLabel = STATISTICS.find(([value]) => value === statistic)?.[1] ?? statistic;
  const chartLabel =
    statistic === 'valid' || statistic === 'invalid'
      ? `Count of ${statLabel}`
      : `${statLabel} of ${metric ?? '(no metric)'}`;

  return (
    <>
      <section className="panel" aria-labelledby="history-heading">
        <h2 id="history-heading">History</h2>
        <form ref={formRef} className="history-form" onSubmit={run} data-testid="history-form">
          <DevicePicker devices={devices} selected={selected} onChange={setSelected} />
          <fieldset className="range-picker">
            <legend>Time range</legend>
            <div className="field">
              <label htmlFor={presetId}>Range</label>
              <select
                id={presetId}
                value={choice.preset}
                onChange={(event) => setChoice({ ...choice, preset: event.target.value as RangePreset })}
              >
                {PRESETS.map(([preset, label]) => (
                  <option key={preset} value={preset}>
                    {label}
                  </option>
                ))}
                <option value="custom">Custom…</option>
              </select>
            </div>
            {choice.preset === 'custom' && (
              <>
                <div className="field">
                  <label htmlFor={fromId}>From (local time)</label>
                  <input
                    id={fromId}
                    type="datetime-local"
                    value={choice.from}
                    onChange={(event) => setChoice({ ...choice, from: event.target.value })}
                  />
                </div>
                <div className="field">
                  <label htmlFor={toId}>To (local time)</label>
                  <input
                    id={toId}
                    type="datetime-local"
                    value={choice.to}
                    onChange={(event) => setChoice({ ...choice, to: event.target.value })}
                  />
                </div>
              </>
            )}
            <button type="submit" className="button is-primary" disabled={busy} data-action="show-history">
              {busy ? 'Loading…' : 'Show'}
            </button>
          </fieldset>
        </form>
        {error !== null && (
          <p className="notice is-error" role="alert">
            {error}
          </p>
        )}
        {devicesLoaded.state === 'error' && (
          <p className="notice is-error">Could not list devices: {devicesLoaded.error}</p>
        )}
      </section>
      {result !== null && aligned !== null && (
        <section className="panel" aria-labelledby="series-heading" data-testid="history-result">
          <div className="panel-head">
            <h2 id="series-heading">Aggregated series</h2>
            <span className="muted" data-testid="bucket-width" data-width={result.width}>
              {formatDateTime(result.range.from)} – {formatDateTime(result.range.to)}, buckets of {result.width} (fits{' '}
              {Math.round(result.chartWidth)} px)
            </span>
          </div>
          <div className="inline-form">
            <div className="field">
              <label htmlFor={metricId}>Metric</label>
              <select id={metricId} value={metric ?? ''} onChange={(event) => chooseMetric(event.target.value || null)}>
                {metrics.length === 0 && <option value="">(none)</option>}
                {metrics.map((name) => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor={statisticId}>Statistic</label>
              <select
                id={statisticId}
                value={statistic}
                onChange={(event) => setStatistic(event.target.value as Statistic)}
              >
                {STATISTICS.map(([value, label]) => (
                  <option key={value} value={value}>
                    {label}
                  </option>
                ))}
              </select>
            </div>
          </div>
          {result.errors.length > 0 && (
            <p className="notice is-error">Some series failed: {result.errors.join('; ')}</p>
          )}
          <HistoryChart data={aligned} range={result.range} label={chartLabel} onWidth={onWidth} />
          {result.series.size > 1 && (
            <div className="field raw-device">
              <label htmlFor={rawId}>Raw readings of</label>
              <select id={rawId} value={rawDevice ?? ''} onChange={(event) => setRawDevice(event.target.value)}>
                {[...result.series.keys()].map((device) => (
                  <option key={device} value={device}>
                    {device}
                  </option>
                ))}
              </select>
            </div>
          )}
        </section>
      )}
      {result !== null && rawDevice !== null && (
        <RawReadings
          key={`${rawDevice}|${result.range.from}|${result.range.to}`}
          api={api}
          device={rawDevice}
          range={result.range}
        />
      )}
    </>
  );
}

export const HistoryView = memo(HistoryViewComponent);
