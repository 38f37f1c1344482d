/** Public surface of @sealstream/emitter: the device SDK, the simulator and the seed-compatible emitter. */
export { NativeClient, type NativeClientOptions, type NativeClientStats, type ClientEvent } from './native-client.js';
export { Simulator, type SimulatorOptions, type SimulatorSummary, type DeviceKeyRef } from './simulator.js';
export { LegacyEmitter, type LegacyEmitterOptions, type LegacyEmitterStats } from './legacy-emitter.js';
export { parseEmitArgs, emitHelpText, type EmitCommand, type EmitArgsResult } from './emit-args.js';
export { runEmit, type EmitSummary, type RunningEmit } from './run-emit.js';
export { describeEmitSummary, emitExitCode } from './emit-summary.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export type { FrameLink, FrameLinkHandlers, FrameTransport } from './frame-link.js';
export { HttpFramesClient, FRAMES_PATH, type HttpFramesClientOptions } from './http-frames-client.js';
export {
  HttpJsonClient,
  signXRayIotRequest,
  signedHeaders,
  SIGNED_PATH,
  INSIGHTHUB_PATH,
  type HttpJsonClientOptions,
  type SignatureInput,
  type SignedReading,
} from './http-signed-client.js';
export type { HttpIngestAnswer } from './http-answer.js';
