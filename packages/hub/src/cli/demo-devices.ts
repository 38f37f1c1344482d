/**
 * Demo traffic for `serve --demo`: simulated native devices sealing readings with the public demo key,
 * and the seed's legacy burst emitter with its demo credentials, both pointed at this hub's own ports.
 * Runs until stopped; never used outside demo mode.
 */
import { LegacyEmitter, Simulator } from '@sealstream/emitter';
import type { Logger } from 'pino';
import { DEMO_DEFAULTS, DEMO_LEGACY_TAMPER_FRACTION } from './demo-defaults.js';
import type { RunningHub } from './start-hub.js';

export interface DemoDevices {
  stop(): Promise<void>;
}

export function startDemoDevices(hub: RunningHub, logger: Logger): DemoDevices {
  const { config } = hub;
  const stops: Array<() => Promise<void>> = [];
  if (hub.ports.tcp !== null && config.demoDevices.count > 0) {
    const simulator = new Simulator({
      host: '127.0.0.1',
      port: hub.ports.tcp,
      devices: config.demoDevices.count,
      devicePrefix: 'demo',
      rate: config.demoDevices.rate,
      keyId: DEMO_DEFAULTS.keyId,
      secret: DEMO_DEFAULTS.secret,
    });
    void simulator
      .run()
      .catch((error: unknown) => logger.warn({ err: (error as Error).message }, 'demo simulator stopped'));
    stops.push(() => simulator.stop().then(() => undefined));
  }
  if (hub.ports.legacy !== null && config.legacy !== null) {
    const legacy = new LegacyEmitter({
      host: '127.0.0.1',
      port: hub.ports.legacy,
      encryptionKey: config.legacy.encryptionKey,
      authToken: config.legacy.authToken,
      intervalMs: config.demoDevices.legacyIntervalMs,
      // A few corrupted tokens so the demo shows refusals arriving with their reasons.
      tamperFraction: DEMO_LEGACY_TAMPER_FRACTION,
    });
    legacy.start();
    stops.push(() => legacy.stop());
  }
  return {
    async stop() {
      await Promise.all(stops.map((stop) => stop()));
    },
  };
}
