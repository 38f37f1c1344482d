/**
 * What an operator reads when PGlite cannot open its data folder. PGlite reports a failed start of its
 * WASM PostgreSQL as a bare `Aborted(). Build with -sASSERTIONS for more info.`, which says nothing;
 * the usual cause found by an outside test was a full disk, so the error names the folder and, when the
 * disk holding it is nearly full, says so.
 */
import { statfs } from 'node:fs/promises';

/** Below this much free space on the folder's disk, a failed open names the disk as the likely cause. */
export const LOW_DISK_BYTES = 64 * 1024 * 1024;

export type FreeBytes = (path: string) => Promise<number | null>;

async function freeBytesOf(path: string): Promise<number | null> {
  try {
    const stats = await statfs(path);
    return stats.bavail * stats.bsize;
  } catch {
    return null;
  }
}

/** The error to throw for a failed open: the folder, PGlite's own message, and the disk if it is nearly full. */
export async function describeOpenFailure(
  error: unknown,
  dataDir: string,
  freeBytes: FreeBytes = freeBytesOf,
): Promise<Error> {
  const message = error instanceof Error ? error.message : String(error);
  const free = await freeBytes(dataDir);
  const disk =
    free !== null && free < LOW_DISK_BYTES
      ? `; the disk holding it has ${Math.floor(free / (1024 * 1024))} MiB free, which is the likely cause: free space and start again`
      : '';
  return new Error(`store: PGlite could not open the data folder ${dataDir} (${message})${disk}`, { cause: error });
}
