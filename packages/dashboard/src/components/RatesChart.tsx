/**
 * The rates chart: readings/s (left axis) and rejects/s (right axis, since rejects are usually
 * orders of magnitude fewer) over the last five minutes of `stats` events, drawn with uPlot.
 * The plot is created once; new snapshots only swap its data, and it follows the container width.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import { formatClock, formatRate } from '../format.js';
import type { RateSeries } from '../live-store.js';
import { STATS_HISTORY_WINDOW_MS } from '../live-store.js';

const CHART_HEIGHT = 220;
const WINDOW_SECONDS = STATS_HISTORY_WINDOW_MS / 1000;

interface RatesChartProps {
  readonly rates: RateSeries;
}

function cssColor(element: Element, variable: string, fallback: string): string {
  return getComputedStyle(element).getPropertyValue(variable).trim() || fallback;
}

const rateValue = (_plot: uPlot, value: number | null): string => (value === null ? '–' : `${formatRate(value)}/s`);

/** Rates start at zero so a flat line near the bottom reads as "little", not as "a lot". */
const fromZero: uPlot.Range.Function = (_plot, _min, max) => [0, Number.isFinite(max) && max > 0 ? max * 1.1 : 1];

export function RatesChart({ rates }: RatesChartProps) {
  const containerRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);

  useEffect(() => {
    const container = containerRef.current;
    if (container === null) return;
    const text = cssColor(container, '--text-muted', '#555');
    const grid = cssColor(container, '--grid', '#ddd');
    const readings = cssColor(container, '--accent', '#1f6feb');
    const rejects = cssColor(container, '--danger', '#cf222e');
    const options: uPlot.Options = {
      width: Math.max(container.clientWidth, 280),
      height: CHART_HEIGHT,
      scales: {
        // Always the last five minutes ending at the newest point, so the time axis does not jump.
        x: {
          time: true,
          range: (_plot, _min, max) => {
            const end = Number.isFinite(max) ? max : Date.now() / 1000;
            return [end - WINDOW_SECONDS, end];
          },
        },
        readings: { range: fromZero },
        rejects: { range: fromZero },
      },
      series: [
        {},
        { label: 'Readings/s', scale: 'readings', stroke: readings, width: 2, value: rateValue },
        { label: 'Rejects/s', scale: 'rejects', stroke: rejects, width: 2, value: rateValue },
      ],
      axes: [
        {
          stroke: text,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          // Plain wall-clock labels, spaced so they never overlap at narrow widths.
          space: 70,
          values: (_plot, splits) => splits.map((split) => formatClock(split * 1000)),
        },
        {
          scale: 'readings',
          label: 'readings/s',
          stroke: readings,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: (_plot, splits) => splits.map((split) => formatRate(split)),
        },
        {
          scale: 'rejects',
          side: 1,
          label: 'rejects/s',
          stroke: rejects,
          grid: { show: false },
          ticks: { stroke: grid, width: 1 },
          values: (_plot, splits) => splits.map((split) => formatRate(split)),
        },
      ],
    };
    const plot = new uPlot(options, [[], [], []], container);
    plotRef.current = plot;
    const resize = new ResizeObserver(() => {
      plot.setSize({ width: Math.max(container.clientWidth, 280), height: CHART_HEIGHT });
    });
    resize.observe(container);
    return () => {
      resize.disconnect();
      plot.destroy();
      plotRef.current = null;
    };
  }, []);

  useEffect(() => {
    // uPlot only reads the columns; the store hands out fresh arrays per snapshot.
    plotRef.current?.setData([
      rates.times as number[],
      rates.readingsPerSec as Array<number | null>,
      rates.rejectsPerSec as Array<number | null>,
    ]);
  }, [rates]);

  const last = rates.times.length - 1;
  let peak = 0;
  for (const value of rates.readingsPerSec) if (value !== null && value > peak) peak = value;
  const summary =
    last < 0
      ? 'No rate samples yet.'
      : `Latest: ${formatRate(rates.readingsPerSec[last] ?? 0)} readings/s, ${formatRate(rates.rejectsPerSec[last] ?? 0)} rejects/s; ` +
        `peak ${formatRate(peak)} readings/s.`;

  return (
    <section className="panel" aria-labelledby="rates-heading">
      <h2 id="rates-heading">Throughput, last 5 minutes</h2>
      <figure className="chart-figure">
        <div
          className="chart"
          ref={containerRef}
          role="img"
          aria-label={`Readings and rejects per second. ${summary}`}
        />
        <figcaption className="muted" data-testid="rates-summary" data-points={rates.times.length} data-peak={peak}>
          {summary}
        </figcaption>
      </figure>
    </section>
  );
}
