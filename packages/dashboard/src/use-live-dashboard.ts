/**
 * The one React hook that wires the page: a LiveStore fed by the Socket.IO link and the REST
 * endpoints, and a render pump that publishes the store's snapshot at most RENDER_HZ times per
 * second, so a burst of thousands of events costs a handful of renders. REST data is (re)loaded on
 * mount and after every reconnect, so counters and the rejects list are right after an outage.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { LiveConnection } from './live-connection.js';
import type { LiveView } from './live-store.js';
import { LiveStore } from './live-store.js';
import { fetchDeadLetters, fetchStats } from './rest-api.js';

const RENDER_HZ = 4;

export interface LiveDashboard {
  readonly view: LiveView;
  /** Wall clock rounded down to the second: ages re-render once a second, not on every frame. */
  readonly now: number;
  /** The devices table's bound, for saying when it is reached. */
  readonly maxDevices: number;
  follow(device: string | null): void;
  reconnect(): void;
}

const wholeSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;

export function useLiveDashboard(): LiveDashboard {
  const [store] = useState(() => new LiveStore());
  const [view, setView] = useState<LiveView>(() => store.view());
  const [now, setNow] = useState(() => wholeSecond(Date.now()));
  const connectionRef = useRef<LiveConnection | null>(null);

  useEffect(() => {
    let loads: AbortController | null = null;
    const loadFromRest = (): void => {
      // A newer load supersedes one still in flight (e.g. two reconnects in quick succession).
      loads?.abort();
      const controller = new AbortController();
      loads = controller;
      void fetchStats(controller.signal).then((result) => {
        if (controller.signal.aborted) return;
        if (result.ok) store.applyStats(result.value, Date.now(), false);
        store.setLoadError('stats', result.ok ? null : result.error);
      });
      void fetchDeadLetters(controller.signal).then((result) => {
        if (controller.signal.aborted) return;
        if (result.ok) store.applyDeadLetters(result.value);
        store.setLoadError('deadLetters', result.ok ? null : result.error);
      });
    };

    const connection = new LiveConnection({
      readings: (batch) => store.applyReadings(batch, Date.now()),
      rejects: (batch) => store.applyRejects(batch),
      stats: (stats) => store.applyStats(stats, Date.now(), true),
      connection: (info) => store.setConnection(info),
      connected: (reconnected) => {
        if (reconnected) loadFromRest();
      },
    });
    connection.follow(store.followedDeviceId);
    connectionRef.current = connection;
    loadFromRest();

    const pump = setInterval(() => {
      setView(store.view());
      setNow(wholeSecond(Date.now()));
    }, 1000 / RENDER_HZ);

    return () => {
      clearInterval(pump);
      loads?.abort();
      connection.close();
      connectionRef.current = null;
    };
  }, [store]);

  const follow = useCallback(
    (device: string | null) => {
      store.follow(device);
      connectionRef.current?.follow(device);
      // A user action shows at once instead of waiting for the next pump tick.
      setView(store.view());
    },
    [store],
  );

  const reconnect = useCallback(() => connectionRef.current?.reconnect(), []);

  return { view, now, maxDevices: store.devices.maxDevices, follow, reconnect };
}
