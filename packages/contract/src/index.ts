/**
 * The REST contract of the hub's API (/api/v1): one TypeBox schema per answer shape, each with its static
 * type of the same name. The hub validates, serializes and documents (OpenAPI) with the schemas; the
 * dashboard imports the types only (`import type`), so nothing of this package reaches the browser bundle.
 */
export { stringEnum } from './string-enum.js';
export { DeviceStatus, DeviceSummary } from './devices.js';
export { MetricAggregate, MinuteDocument, Reading, SeriesPoint } from './history.js';
export { DEAD_LETTER_PREVIEW_BYTES, DeadLetterItem, RedriveOutcome } from './dead-letters.js';
export { ClusterNode, ClusterView } from './cluster.js';
export { Stats } from './stats.js';
export { Role, User, UserList } from './users.js';
