/**
 * What the REST API needs from storage, beyond the pipeline's ReadingStore: accounts and the read-side
 * queries. The SQL store implements both (structurally); the API never imports an implementation.
 */
import type { DeadLetterRow, StoredReading } from '../pipeline/ports.js';
import type { CreateUserResult, Role, UserPatch, UserRow, UserWithHash } from '../store/accounts.js';
import type {
  DeadLetterCursor,
  DeadLetterFilter,
  DeviceSummary,
  MinuteDocument,
  Page,
  ReadingCursor,
  Series,
  SeriesMetrics,
  SeriesPoint,
  SeriesWidth,
} from '../store/api-queries.js';

export type { CreateUserResult, Role, UserPatch, UserRow, UserWithHash };
export type {
  DeadLetterCursor,
  DeadLetterFilter,
  DeviceSummary,
  MinuteDocument,
  Page,
  ReadingCursor,
  Series,
  SeriesMetrics,
  SeriesPoint,
  SeriesWidth,
};

export interface AccountStore {
  createUser(user: { username: string; role: Role; passwordHash: string }): Promise<CreateUserResult>;
  findUserByName(username: string): Promise<UserWithHash | undefined>;
  findUserById(id: string): Promise<UserWithHash | undefined>;
  listUsers(): Promise<UserRow[]>;
  countUsers(): Promise<number>;
  updateUser(id: string, patch: UserPatch): Promise<UserRow | undefined>;
  /** False when there was no such account. */
  deleteUser(id: string): Promise<boolean>;
}

export interface QueryStore {
  readingPage(query: {
    device: string;
    fromMs: number;
    toMs: number;
    limit: number;
    after: ReadingCursor | null;
  }): Promise<Page<StoredReading, ReadingCursor>>;
  deadLetterPage(query: {
    filter: DeadLetterFilter;
    limit: number;
    before: DeadLetterCursor | null;
  }): Promise<Page<DeadLetterRow, DeadLetterCursor>>;
  devicePage(query: { limit: number; afterDevice: string | null; nowMs: number }): Promise<Page<DeviceSummary, string>>;
  series(query: {
    device: string;
    fromMs: number;
    toMs: number;
    width: SeriesWidth;
    metrics: SeriesMetrics;
  }): Promise<Series>;
  metricNames(query: { device: string; limit: number; after: string | null }): Promise<Page<string, string>>;
  minuteDocuments(query: {
    device: string;
    fromMs: number;
    toMs: number;
    limit: number;
    afterMinute: number | null;
    maxRecords: number;
  }): Promise<Page<MinuteDocument, number>>;
}

/**
 * Ends the open live connections (Socket.IO, WebSocket) admitted for an account. The account routes call
 * it when an account is disabled or deleted, so its live streams stop at once rather than when the token expires.
 */
export interface LiveSessionControl {
  endForAccount(accountId: string): unknown;
}
