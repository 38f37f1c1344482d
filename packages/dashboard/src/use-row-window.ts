/**
 * Which rows of a long, fixed-row-height table are inside its scroll box: the first visible index and
 * how many fit. Tables render only those (plus an overscan) between two spacer rows, so a list that
 * changes several times a second costs a screenful of rows to paint, not hundreds.
 */
import { useEffect, useState } from 'react';

export interface RowWindow {
  readonly first: number;
  readonly visible: number;
}

/** The rows to render for a window: [start, end) with `overscan` extra rows each side. */
export function windowRange(window: RowWindow, total: number, overscan: number): { start: number; end: number } {
  const start = Math.min(total, Math.max(0, window.first - overscan));
  const end = Math.min(total, window.first + window.visible + overscan);
  return { start, end: Math.max(start, end) };
}

/**
 * The window of the element given to the returned callback ref. A callback ref (not a RefObject), so
 * a scroll box that appears later (a panel that starts empty) is still observed.
 */
export function useRowWindow(
  rowHeight: number,
  initialVisible = 16,
): readonly [RowWindow, (element: HTMLElement | null) => void] {
  const [box, setBox] = useState<HTMLElement | null>(null);
  const [window, setWindow] = useState<RowWindow>({ first: 0, visible: initialVisible });

  useEffect(() => {
    if (box === null) return;
    const sync = (): void => {
      const next = {
        first: Math.floor(box.scrollTop / rowHeight),
        visible: Math.ceil(box.clientHeight / rowHeight) + 1,
      };
      // Scroll events fire every frame; re-render only when the window moves.
      setWindow((previous) => (previous.first === next.first && previous.visible === next.visible ? previous : next));
    };
    box.addEventListener('scroll', sync, { passive: true });
    const resize = new ResizeObserver(sync);
    resize.observe(box);
    return () => {
      box.removeEventListener('scroll', sync);
      resize.disconnect();
    };
  }, [box, rowHeight]);
  return [window, setBox] as const;
}
