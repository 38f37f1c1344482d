/**
 * A legacy open worker for pool tests: the real job, except that a line whose first token is
 * `SLOW:<ms>` is held that long first, `EXIT` ends the thread and `THROW` throws uncaught (a lost
 * worker either way). Those marker tokens are not hex, so inline they open as legacy_bad_token.
 */
import { parentPort } from 'node:worker_threads';
import { answerTransferList, runLegacyOpenJob, type LegacyOpenJob } from '../../src/pipeline/legacy-open-job.js';

const port = parentPort;
if (port === null) throw new Error('worker only');
port.on('message', (request: { id: number; job: LegacyOpenJob }) => {
  const line = Buffer.from(request.job.line.buffer, request.job.line.byteOffset, request.job.line.byteLength);
  const bar = line.indexOf('|');
  const first = line.toString('latin1', 0, bar === -1 ? line.length : bar);
  if (first === 'EXIT') process.exit(3);
  if (first === 'THROW') throw new Error('scripted worker failure');
  if (first.startsWith('SLOW:')) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(first.slice(5)));
  const answer = runLegacyOpenJob(request.job);
  port.postMessage({ id: request.id, answer }, answerTransferList(answer));
});
