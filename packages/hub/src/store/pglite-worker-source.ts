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
 *
 * Durability: PGlite opens with the start parameters the main thread computed (fsync on) and a NodeFS
 * whose preRun gives NODEFS the fsync it lacks: a twin of installFsyncHook in pglite-durability.ts (this
 * thread cannot load TypeScript); keep the two alike. `syncCalls` answers how many syncs reached the disk.
 */
export const PGLITE_WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { fdatasyncSync, fsyncSync } = require('node:fs');

let db;
let syncCalls = 0;

// Twin of installFsyncHook (pglite-durability.ts): fdatasync for files, fsync for directories.
function installFsyncHook(mod) {
  const FS = mod && mod.FS;
  const NODEFS = mod && mod.NODEFS;
  if (!NODEFS || typeof NODEFS.stream_ops !== 'object' || typeof NODEFS.tryFSOperation !== 'function' ||
      !FS || typeof FS.isDir !== 'function') {
    throw new Error('store: PGlite internals changed (NODEFS); cannot make the data folder durable');
  }
  NODEFS.stream_ops.fsync = (stream) => {
    NODEFS.tryFSOperation(() => {
      if (FS.isDir(stream.node.mode)) fsyncSync(stream.nfd);
      else fdatasyncSync(stream.nfd);
    });
    syncCalls += 1;
    return 0;
  };
}

async function open() {
  const [{ PGlite }, { NodeFS }] = await Promise.all([import(workerData.pgliteUrl), import(workerData.nodefsUrl)]);
  class DurableNodeFs extends NodeFS {
    async init(pg, opts) {
      const { emscriptenOpts } = await super.init(pg, opts);
      return {
        emscriptenOpts: { ...emscriptenOpts, preRun: [...(emscriptenOpts.preRun || []), installFsyncHook] },
      };
    }
  }
  db = await PGlite.create({ fs: new DurableNodeFs(workerData.dataDir), startParams: workerData.startParams });
}

const ready = open();
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
    case 'syncCalls':
      return [{ count: syncCalls }];
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
