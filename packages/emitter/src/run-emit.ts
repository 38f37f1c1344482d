/** Starts what an EmitCommand describes and reports progress through a callback; the CLI prints it. */
import type { EmitCommand } from './emit-args.js';
import { LegacyEmitter } from './legacy-emitter.js';
import { Simulator, type SimulatorSummary } from './simulator.js';

export type EmitSummary =
  | ({ readonly mode: 'native' } & SimulatorSummary)
  | {
      readonly mode: 'legacy';
      readonly bursts: number;
      readonly messages: number;
      readonly tampered: number;
      readonly authFailed: boolean;
    };

export interface RunningEmit {
  readonly done: Promise<EmitSummary>;
  stop(): Promise<void>;
}

export function runEmit(command: EmitCommand, hooks: { onProgress?: (line: string) => void } = {}): RunningEmit {
  const report = hooks.onProgress ?? (() => undefined);
  if (command.mode === 'native') {
    const simulator = new Simulator({
      host: command.host,
      port: command.port,
      transport: command.transport,
      devices: command.devices,
      devicePrefix: command.devicePrefix,
      ...(command.deviceIds === undefined ? {} : { deviceIds: command.deviceIds }),
      rate: command.rate,
      durationSec: command.durationSec,
      keyId: command.keyId,
      secret: command.secret,
      suite: command.suite,
      connections: command.connections,
      maxReadingsPerFrame: command.frameSize,
      onEvent: (event) => {
        if (event.type !== 'connected') report(`${event.type}: ${JSON.stringify(event)}`);
      },
    });
    const fleet = command.deviceIds === undefined ? `${command.devices} devices` : command.deviceIds.join(', ');
    // Where to: the broker's host only, never credentials a URL may carry.
    const target =
      command.transport.kind === 'mqtt'
        ? `MQTT broker ${new URL(command.transport.url).host}`
        : `${command.host}:${command.port}`;
    report(`native: ${fleet}, ${command.rate} readings/s to ${target}`);
    const done = simulator.run().then((summary) => ({ mode: 'native' as const, ...summary }));
    return { done, stop: async () => void (await simulator.stop()) };
  }
  const emitter = new LegacyEmitter({
    host: command.host,
    port: command.port,
    encryptionKey: command.encryptionKey,
    authToken: command.authToken,
    intervalMs: command.intervalMs,
    minMessages: command.minMessages,
    maxMessages: command.maxMessages,
    tamperFraction: command.tamperFraction,
    variant: command.variant,
    ...(command.bursts === undefined ? {} : { maxBursts: command.bursts }),
    onEvent: report,
  });
  let resolveDone: (summary: EmitSummary) => void = () => undefined;
  const done = new Promise<EmitSummary>((resolve) => (resolveDone = resolve));
  let finishing: Promise<void> | undefined;
  const finish = (): Promise<void> =>
    (finishing ??= (async () => {
      clearInterval(watch);
      await emitter.stop();
      const { bursts, messages, tampered, authFailed } = emitter.stats();
      resolveDone({ mode: 'legacy', bursts, messages, tampered, authFailed });
    })());
  emitter.start();
  report(`legacy: bursts every ${command.intervalMs} ms to ${command.host}:${command.port}`);
  let lastBursts = 0;
  const watch = setInterval(() => {
    const stats = emitter.stats();
    if (stats.bursts !== lastBursts) report(`burst ${stats.bursts}: ${stats.messages} messages so far`);
    lastBursts = stats.bursts;
  }, 100);
  void emitter.finished().then(finish);
  return { done, stop: finish };
}
