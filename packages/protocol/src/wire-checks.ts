/**
 * Range checks for values we are about to encode. A value out of range is a bug in the caller,
 * so these throw ProtocolError rather than returning a rejection.
 */
import { ProtocolError } from './errors.js';

const U64_MAX = (1n << 64n) - 1n;

export function assertU32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new ProtocolError('malformed_frame', `${name} must be an integer in 0..2^32-1`);
  }
}

export function assertU16(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new ProtocolError('malformed_frame', `${name} must be an integer in 0..65535`);
  }
}

export function assertU64(name: string, value: bigint): void {
  if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) {
    throw new ProtocolError('malformed_frame', `${name} must be a bigint in 0..2^64-1`);
  }
}
