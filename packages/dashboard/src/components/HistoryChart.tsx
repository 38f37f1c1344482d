/**
 * The history chart: one line per selected device for the chosen metric and statistic, over the
 * API's aggregated buckets, drawn with uPlot. Reports its width so the view can pick the bucket width
 * that fits; the plot is rebuilt only when the set of devices changes, otherwise its data is swapped.
 */
import { useEffect, useEffectEvent, useRef } from 'react';
import uPlot from 'uplot';
import { formatDateTime, formatMetric, formatTimeTick } from '../format.js';
import type { AlignedSeries } from '../history-series.js';

const HEIGHT = 280;
/** Colour-blind-friendly palette (Okabe–Ito), readable on light and dark surfaces. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#8c6d1f', '#666666'];

interface HistoryChartProps {
  readonly data: AlignedSeries;
  /** The queried range, ms: the time axis spans it even where there is no data. */
  readonly range: { readonly from: number; readonly to: number };
  readonly label: string;
  readonly onWidth: (width: number) => void;
}

export function HistoryChart({ data, range, label, onWidth }: HistoryChartProps) {
  const containerRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const devicesKey = data.devices.join('\u0000');
  const reportWidth = useEffectEvent((width: number) => onWidth(width));

  useEffect(() => {
    const container = containerRef.current;
    if (container === null) return;
    const width = (): number => Math.max(container.clientWidth, 280);
    const text = getComputedStyle(container).getPropertyValue('--text-muted').trim() || '#555';
    const grid = getComputedStyle(container).getPropertyValue('--grid').trim() || '#ddd';
    const devices = devicesKey === '' ? [] : devicesKey.split('\u0000');
    const options: uPlot.Options = {
      width: width(),
      height: HEIGHT,
      scales: { x: { time: true } },
      series: [
        { value: (_plot, value) => (value === null ? '–' : formatDateTime(value * 1000)) },
        ...devices.map((device, index) => ({
          label: device,
          stroke: PALETTE[index % PALETTE.length] ?? '#0072B2',
          width: 2,
          spanGaps: false,
          // uPlot's default: points shown only while buckets are sparse, so a lone bucket is still visible.
          value: (_plot: uPlot, value: number | null) => (value === null ? '–' : formatMetric(value)),
        })),
      ],
      axes: [
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          space: 80,
          // Splits and their step are in seconds; the span is the visible range.
          values: (plot, splits, _axis, _space, step) =>
            splits.map((split) =>
              formatTimeTick(split * 1000, step * 1000, ((plot.scales.x?.max ?? 0) - (plot.scales.x?.min ?? 0)) * 1000),
            ),
        },
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          size: 60,
          values: (_plot, splits) => splits.map((split) => formatMetric(split)),
        },
      ],
    };
    // Empty columns of the right shape; the data effect below (run right after this one) fills them.
    const plot = new uPlot(options, [[], ...devices.map(() => [])], container);
    plotRef.current = plot;
    reportWidth(width());
    const resize = new ResizeObserver(() => {
      plot.setSize({ width: width(), height: HEIGHT });
      reportWidth(width());
    });
    resize.observe(container);
    return () => {
      resize.disconnect();
      plot.destroy();
      plotRef.current = null;
    };
  }, [devicesKey]);

  useEffect(() => {
    const plot = plotRef.current;
    if (plot === null) return;
    plot.setData([data.times, ...data.columns]);
    plot.setScale('x', { min: range.from / 1000, max: range.to / 1000 });
  }, [data, range.from, range.to]);

  const summary =
    data.times.length === 0
      ? 'No buckets in this range.'
      : `${data.times.length} buckets for ${data.devices.length} devices.`;
  return (
    <figure className="chart-figure">
      <div
        className="chart"
        ref={containerRef}
        role="img"
        aria-label={`${label}. ${summary}`}
        data-testid="history-chart"
      />
      <figcaption className="muted">
        {label}. {summary}
      </figcaption>
    </figure>
  );
}
