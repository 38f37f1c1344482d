/**
 * One way to read a dead letter out of the store: the column list every query selects and the mapper
 * from its row, so the list, the recent view and re-drive cannot drift apart.
 */
import type { ReasonCode } from '@sealstream/protocol';
import type { DeadLetterRow, SourceKind } from '../pipeline/ports.js';
import type { SqlRow } from './sql-executor.js';
import { hexToBytes, msOf, toBoolean, toNullableText, toNumber, toText } from './sql-values.js';

/** The SELECT list that `toDeadLetterRow` reads (table `dead_letters`, no alias). */
export const DEAD_LETTER_COLUMNS = `id::text AS id, reason, source, peer, device_id, detail, encode(raw, 'hex') AS raw_hex,
  truncated, ${msOf('received_at')} AS received_ms, ${msOf('redriven_at')} AS redriven_ms, redrive_outcome`;

export function toDeadLetterRow(row: SqlRow): DeadLetterRow {
  const redriven = row['redriven_ms'];
  return {
    id: toText(row['id'], 'id'),
    reason: toText(row['reason'], 'reason') as ReasonCode,
    source: toText(row['source'], 'source') as SourceKind,
    peer: toText(row['peer'], 'peer'),
    device: toNullableText(row['device_id'], 'device_id'),
    detail: toText(row['detail'], 'detail'),
    raw: hexToBytes(row['raw_hex'], 'raw'),
    truncated: toBoolean(row['truncated'], 'truncated'),
    receivedAt: toNumber(row['received_ms'], 'received_at'),
    redrivenAt: redriven === null || redriven === undefined ? null : toNumber(redriven, 'redriven_at'),
    redriveOutcome: toNullableText(row['redrive_outcome'], 'redrive_outcome'),
  };
}
