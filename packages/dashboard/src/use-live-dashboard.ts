/**
 * The one React hook that wires the live view: a LiveStore fed by the Socket.IO link and the REST
 * endpoints, and a render pump that publishes the store's snapshot at most RENDER_HZ times per
 * second, so a burst of thousands of events costs a handful of renders. REST data is (re)loaded on
 * mount and after every reconnect (stats, the throughput chart's last five minutes, dead letters); after a reconnect the gap is back-filled from the API (rejects,
 * the followed device's readings, the devices' sparklines) and the outage is recorded for the page to
 * show. A renewed session token is handed to the open connection (which moves to it without a gap)
 * instead of tearing the connection down.
 */
import { useCallback, useEffect, useEffectEvent, useRef, useState } from 'react';
import type { ApiClient } from './api/api-client.js';
import { backfill } from './backfill.js';
import { LiveConnection } from './live-connection.js';
import type { LiveView } from './live-store.js';
import { LiveStore } from './live-store.js';
import { fetchDeadLetters, fetchRates, fetchStats } from './rest-api.js';

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

export function useLiveDashboard(api: ApiClient, token: string | null, onUnauthorized: () => void): LiveDashboard {
  const [store] = useState(() => new LiveStore());
  const [view, setView] = useState<LiveView>(() => store.view());
  const [now, setNow] = useState(() => wholeSecond(Date.now()));
  const connectionRef = useRef<LiveConnection | null>(null);
  const refused = useEffectEvent(() => onUnauthorized());
  // The token the connection opens with; later tokens reach it through renew() below.
  const currentToken = useEffectEvent(() => token);

  useEffect(() => {
    let loads: AbortController | null = null;
    /** When the link left "connected"; null while connected or before the first connect. */
    let downSince: number | null = null;
    const loadFromRest = (outage: { from: number; to: number } | null): void => {
      // A newer load supersedes one still in flight (e.g. two reconnects in quick succession).
      loads?.abort();
      const controller = new AbortController();
      loads = controller;
      void fetchStats(api, controller.signal).then((result) => {
        if (controller.signal.aborted) return;
        if (result.ok) store.applyStats(result.value, Date.now(), false);
        store.setLoadError('stats', result.ok ? null : result.error);
      });
      // The throughput chart's past (it would start empty on every load); an older hub without the
      // route answers 404 and the chart simply starts from the live feed, as before.
      void fetchRates(api, controller.signal).then((result) => {
        if (!controller.signal.aborted && result.ok) store.backfillRates(result.value);
      });
      void fetchDeadLetters(api, controller.signal).then((result) => {
        if (controller.signal.aborted) return;
        if (result.ok) store.applyDeadLetters(result.value.items);
        store.setLoadError('deadLetters', result.ok ? null : result.error);
      });
      if (outage === null) return;
      store.setOutage({ ...outage, backfill: null });
      void backfill(api, store, outage, controller.signal).then((result) => {
        if (!controller.signal.aborted) store.setOutage({ ...outage, backfill: result });
      });
    };

    const connection = new LiveConnection(
      {
        readings: (batch) => store.applyReadings(batch, Date.now()),
        rejects: (batch) => store.applyRejects(batch),
        stats: (stats) => store.applyStats(stats, Date.now(), true),
        connection: (info) => {
          store.setConnection(info);
          if (info.state !== 'connected' && downSince === null && connectionRef.current !== null) {
            downSince = info.since;
          }
        },
        connected: (reconnected) => {
          const outage = reconnected && downSince !== null ? { from: downSince, to: Date.now() } : null;
          downSince = null;
          if (reconnected) loadFromRest(outage);
        },
        unauthorized: () => refused(),
      },
      currentToken(),
    );
    connection.follow(store.followedDeviceId);
    connectionRef.current = connection;
    loadFromRest(null);

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
  }, [store, api]);

  useEffect(() => {
    connectionRef.current?.renew(token);
  }, [token]);

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
