/**
 * A legacy open worker for pool tests: the real job, except that a line whose first token is
 * `SLOW:<ms>` is held that long first, `EXIT` ends the thread and `THROW` throws uncaught (a lost
 * worker either way). Those marker tokens are not hex, so inline they open as legacy_bad_token.
 */
import { parentPort } from 'node:worker_threads';
import { runWireJob, type WireJob } from '../../src/pipeline/legacy-open-job.js';

const port = parentPort;
if (port === null) throw new Error('worker only');
port.on('message', (request: { id: number; job: WireJob }) => {
  const first = request.job.tokens[0] ?? '';
  if (first === 'EXIT') process.exit(3);
  if (first === 'THROW') throw new Error('scripted worker failure');
  if (first.startsWith('SLOW:')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(first.slice(5)));
  const answer = runWireJob(request.job);
  port.postMessage({ id: request.id, answer }, [
    answer.ivWords.buffer as ArrayBuffer,
    answer.ends.buffer as ArrayBuffer,
    answer.opened.buffer as ArrayBuffer,
  ]);
});
