/**
 * The source of the worker thread that owns an embedded PGlite (see pglite-worker-executor.ts). It is
 * kept as a string and started with `eval: true`, so the same code runs from the TypeScript sources
 * (tests) and from the build without a separate file to ship or copy. Plain CommonJS that imports
 * PGlite's ES module by the absolute URL the main thread resolved, so the process's working directory
 * does not matter.
 *
 * Protocol: the main thread posts {id, op, ...}; the worker answers {id, ok, rows} or {id, ok: false,
 * error: {message, code, severity}} — only the fields the store's error reporting reads, never the
 * query parameters PGlite copies into its errors. Requests are handed to PGlite in arrival order
 * (PGlite runs them one at a time); the main thread keeps other callers out of a transaction.
 */
export const PGLITE_WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

let db;
const ready = import(workerData.pgliteUrl)
  .then(({ PGlite }) => PGlite.create(workerData.dataDir))
  .then((opened) => { db = opened; });
ready.catch(() => undefined);

function describe(error) {
  const out = { message: 'unknown PGlite worker error' };
  if (error !== null && typeof error === 'object') {
    if (typeof error.message === 'string') out.message = error.message;
    if (typeof error.code === 'string') out.code = error.code;
    if (typeof error.severity === 'string') out.severity = error.severity;
  } else if (typeof error === 'string') {
    out.message = error;
  }
  return out;
}

async function handle(msg) {
  await ready;
  switch (msg.op) {
    case 'query':
      return (await db.query(msg.text, msg.params)).rows;
    case 'copy':
      // PGlite reads COPY input from a Blob handed over as the virtual file /dev/blob.
      await db.query(msg.text, [], { blob: new Blob([msg.data]) });
      return [];
    case 'exec':
      await db.exec(msg.text);
      return [];
    case 'close':
      await db.close();
      return [];
    default:
      throw new Error('unknown PGlite worker request');
  }
}

parentPort.on('message', (msg) => {
  handle(msg).then(
    (rows) => parentPort.postMessage({ id: msg.id, ok: true, rows }),
    (error) => parentPort.postMessage({ id: msg.id, ok: false, error: describe(error) }),
  );
});
`;
