/**
 * Entry of the latency probe's own process (forked by latency-probe.ts, `--probe process`). A dashboard
 * runs on another machine, not inside the emitter: in its own process the subscriber's arrival times do
 * not wait behind the emitter's sealing and garbage collection on the bench's event loop. Both processes
 * read the same wall clock, so `now - reading.ts` means the same thing as in-process.
 *
 * Protocol over the IPC channel: argv = [httpPort, token, ...devices]; it sends {type:'ready'} once
 * subscribed, {type:'stats', stats} for each stats event; on {type:'timed'} the latencies so far become
 * the warm-up's; on {type:'finish'} it closes the socket and answers
 * {type:'samples', values, seen, warmup, toCommit, afterCommit (each {values, seen}), dropped}, then exits.
 */
import { LatencySamples } from './percentiles.js';
import { connectLiveSubscriber } from './live-subscriber.js';

const [portText, token, ...devices] = process.argv.slice(2);
const send = (message: unknown): void => {
  process.send?.(message);
};

async function main(): Promise<void> {
  if (portText === undefined || token === undefined || process.send === undefined) {
    throw new Error('latency-probe-child: run by latency-probe.ts with an IPC channel');
  }
  let samples = new LatencySamples();
  let warmup = new LatencySamples();
  let toCommit = new LatencySamples();
  let afterCommit = new LatencySamples();
  let dropped = 0;
  const subscriber = await connectLiveSubscriber(Number(portText), devices, token, {
    onLatency: (ms, toCommitMs) => {
      samples.add(ms);
      toCommit.add(toCommitMs);
      afterCommit.add(ms - toCommitMs);
    },
    onDropped: (count) => {
      dropped += count;
    },
    onStats: (stats) => send({ type: 'stats', stats }),
  });
  process.on('message', (message: { type?: string }) => {
    if (message.type === 'timed') {
      warmup = samples;
      samples = new LatencySamples();
      toCommit = new LatencySamples();
      afterCommit = new LatencySamples();
      return;
    }
    if (message.type !== 'finish') return;
    subscriber.close();
    // A large sample is one big IPC message: disconnect only once it has been handed to the channel.
    const answer = {
      type: 'samples',
      ...samples.snapshot(),
      warmup: warmup.snapshot(),
      toCommit: toCommit.snapshot(),
      afterCommit: afterCommit.snapshot(),
      dropped,
    };
    process.send?.(answer, () => process.disconnect());
  });
  // The parent going away ends this process too (no orphan subscriber).
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}

main().catch((error: unknown) => {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
  process.disconnect?.();
});
