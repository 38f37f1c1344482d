/** Public surface of the live fan-out: the hub factory, its options, and the metrics port it reports into. */
export { createLiveHub, type LiveHub, type LiveHubOptions, type LiveServer } from './live-hub.js';
export { noopLiveMetrics, type LiveDropKind, type LiveMetrics } from './live-metrics.js';
export { UNAUTHORIZED } from './handshake-auth.js';
export { MAX_DEVICES_PER_REQUEST, MAX_SUBSCRIPTIONS_PER_CLIENT } from './subscriptions.js';
export { LiveSessions } from './live-sessions.js';
export {
  createWsLive,
  noopWsLiveMetrics,
  WS_LIVE_PATH,
  type WsCredentialVerdict,
  type WsLive,
  type WsLiveMetrics,
  type WsLiveOptions,
} from './ws-live.js';
export { originCheck, type OriginCheck } from './origin-check.js';
