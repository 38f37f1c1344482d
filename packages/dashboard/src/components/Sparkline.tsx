/**
 * A tiny canvas line of recent values for one device row. Redrawn only when its values array
 * changes identity (the device registry rebuilds it only for devices that got new readings).
 */
import { useEffect, useRef } from 'react';

/** The line colour is the canvas's CSS colour, read once per canvas: reading it per draw forces a style pass. */
const strokeColours = new WeakMap<HTMLCanvasElement, string>();
import { formatMetric } from '../format.js';

const WIDTH = 96;
const HEIGHT = 24;

interface SparklineProps {
  readonly values: readonly number[];
  readonly label: string;
}

export function Sparkline({ values, label }: SparklineProps) {
  const canvasRef = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const canvas = canvasRef.current;
    const context = canvas?.getContext('2d');
    if (canvas === null || context === null || context === undefined) return;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== WIDTH * ratio) {
      canvas.width = WIDTH * ratio;
      canvas.height = HEIGHT * ratio;
    }
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, WIDTH, HEIGHT);
    if (values.length < 2) return;
    let min = Infinity;
    let max = -Infinity;
    for (const value of values) {
      if (value < min) min = value;
      if (value > max) max = value;
    }
    const span = max - min || 1;
    const pad = 2;
    const step = (WIDTH - pad * 2) / (values.length - 1);
    // The canvas's CSS colour is the line colour, so the theme stays in the stylesheet.
    let colour = strokeColours.get(canvas);
    if (colour === undefined) {
      colour = getComputedStyle(canvas).color;
      strokeColours.set(canvas, colour);
    }
    context.strokeStyle = colour;
    context.lineWidth = 1.5;
    context.lineJoin = 'round';
    context.beginPath();
    values.forEach((value, index) => {
      const x = pad + index * step;
      const y = HEIGHT - pad - ((value - min) / span) * (HEIGHT - pad * 2);
      if (index === 0) context.moveTo(x, y);
      else context.lineTo(x, y);
    });
    context.stroke();
  }, [values]);

  let description = `${label}: no data`;
  if (values.length > 0) {
    const newest = values[values.length - 1] ?? 0;
    description = `${label}: ${values.length} points, latest ${formatMetric(newest)}, min ${formatMetric(Math.min(...values))}, max ${formatMetric(Math.max(...values))}`;
  }
  return (
    <canvas
      ref={canvasRef}
      className="sparkline"
      width={WIDTH}
      height={HEIGHT}
      style={{ width: WIDTH, height: HEIGHT }}
      role="img"
      aria-label={description}
    />
  );
}
