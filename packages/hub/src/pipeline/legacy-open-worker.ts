/**
 * The body of a LegacyOpenPool worker thread: answers each {id, job} with {id, opened}, in the order
 * received. It holds no state between jobs (the key comes with each), so a replacement worker picks up
 * where a lost one stopped.
 */
import { parentPort } from 'node:worker_threads';
import { runLegacyOpenJob, type LegacyOpenJob } from './legacy-open-job.js';

interface Request {
  readonly id: number;
  readonly job: LegacyOpenJob;
}

const port = parentPort;
if (port === null) throw new Error('legacy-open-worker runs only as a worker thread');
port.on('message', (request: Request) => {
  const opened = runLegacyOpenJob(request.job);
  // The IV words move, not copy; the results (short strings) are cloned.
  port.postMessage({ id: request.id, opened }, [opened.ivWords.buffer as ArrayBuffer]);
});
