/**
 * One publishing thread of the amqp-xray load (amqp-load.ts): publishes its share [from, to) of the
 * messages over a connection of its own, then exits (code 1 on failure).
 */
import { workerData } from 'node:worker_threads';
import { publishXrayRange, type XrayLoad } from './amqp-load.js';

const { url, load, from, to, start } = workerData as {
  url: string;
  load: XrayLoad;
  from: number;
  to: number;
  start: number;
};
try {
  await publishXrayRange(url, load, from, to, start);
} catch (error) {
  console.error(`publisher [${from}, ${to}) failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
