/**
 * The body of a LegacyOpenPool worker thread: answers each {id, job} with {id, answer}, in the order
 * received. It holds no state between jobs (the key comes with each), so a replacement worker picks up
 * where a lost one stopped.
 */
import { parentPort } from 'node:worker_threads';
import { answerTransferList, runLegacyOpenJob, type LegacyOpenJob } from './legacy-open-job.js';

interface Request {
  readonly id: number;
  readonly job: LegacyOpenJob;
}

const port = parentPort;
if (port === null) throw new Error('legacy-open-worker runs only as a worker thread');
port.on('message', (request: Request) => {
  const answer = runLegacyOpenJob(request.job);
  // The typed arrays move, not copy; one string of fields and the few refusals are cloned.
  port.postMessage({ id: request.id, answer }, answerTransferList(answer));
});
