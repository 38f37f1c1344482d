/**
 * A live line chart of the followed device's numeric fields over its buffered readings (uPlot, one
 * y axis per field so different units do not flatten each other). Rebuilt when the set of fields
 * changes, otherwise its data is swapped on each snapshot.
 */
import { useEffect, useMemo, useRef } from 'react';
import uPlot from 'uplot';
import type { LiveReading } from '../contract.js';
import { followedSeries } from '../followed-series.js';
import { formatClock, formatMetric } from '../format.js';

const HEIGHT = 160;
const COLOURS = ['#0072B2', '#D55E00', '#009E73'];

interface FollowedChartProps {
  readonly device: string;
  /** Newest first, as the followed view holds them. */
  readonly readings: readonly LiveReading[];
}

export function FollowedChart({ device, readings }: FollowedChartProps) {
  const containerRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const series = useMemo(() => followedSeries(readings), [readings]);
  const namesKey = series.names.join('\u0000');

  useEffect(() => {
    const container = containerRef.current;
    if (container === null || namesKey === '') return;
    const names = namesKey.split('\u0000');
    const muted = getComputedStyle(container).getPropertyValue('--text-muted').trim() || '#555';
    const grid = getComputedStyle(container).getPropertyValue('--grid').trim() || '#ddd';
    const width = (): number => Math.max(container.clientWidth, 240);
    const plot = new uPlot(
      {
        width: width(),
        height: HEIGHT,
        scales: Object.fromEntries([['x', { time: true }], ...names.map((name) => [name, {}])]),
        series: [
          {},
          ...names.map((name, index) => ({
            label: name,
            scale: name,
            stroke: COLOURS[index % COLOURS.length] ?? '#0072B2',
            width: 1.5,
            points: { show: false },
            value: (_plot: uPlot, value: number | null) => (value === null ? '–' : formatMetric(value)),
          })),
        ],
        axes: [
          {
            stroke: muted,
            grid: { stroke: grid, width: 1 },
            ticks: { stroke: grid, width: 1 },
            space: 70,
            values: (_plot, splits) => splits.map((split) => formatClock(split * 1000)),
          },
          ...names.map((name, index) => ({
            scale: name,
            side: index === 0 ? 3 : 1,
            stroke: COLOURS[index % COLOURS.length] ?? muted,
            grid: { show: index === 0, stroke: grid, width: 1 },
            ticks: { stroke: grid, width: 1 },
            size: 50,
            values: (_plot: uPlot, splits: number[]) => splits.map((split) => formatMetric(split)),
          })),
        ],
      },
      [[], ...names.map(() => [])],
      container,
    );
    plotRef.current = plot;
    const resize = new ResizeObserver(() => plot.setSize({ width: width(), height: HEIGHT }));
    resize.observe(container);
    return () => {
      resize.disconnect();
      plot.destroy();
      plotRef.current = null;
    };
  }, [namesKey]);

  useEffect(() => {
    plotRef.current?.setData([series.times, ...series.columns]);
  }, [series]);

  if (series.names.length === 0) return null;
  const newest = readings[0];
  const summary =
    newest === undefined
      ? ''
      : series.names.map((name) => `${name} ${formatMetric(Number(newest.data[name]))}`).join(', ');
  return (
    <figure className="chart-figure followed-chart">
      <div
        className="chart"
        ref={containerRef}
        role="img"
        aria-label={`Numeric fields of ${device} over its last ${readings.length} readings. Latest: ${summary}.`}
        data-testid="followed-chart"
      />
    </figure>
  );
}
