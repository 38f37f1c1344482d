/**
 * One RabbitMQ connection that comes back by itself (amqplib's recovery, exponential backoff with
 * jitter) and runs `setup` on every (re)connection, so channels, topology and consumers are rebuilt
 * after a broker restart or a cut connection. Owners learn of losses through `onDown`.
 *
 * The start is bounded: `open` fails with a BusStartError (cli: the process exits non-zero) when the
 * first connection and setup do not succeed within `startTimeoutMs`, and at once when the broker
 * refuses the login or the vhost, or refuses the topology as declared with other arguments
 * (PRECONDITION_FAILED), which no retry fixes. After the start, failed attempts keep being retried and
 * are reported through `onConnectFailed`, at most once per `REPORT_EVERY_MS` (with how many were not).
 *
 * `reopen` closes the current connection so recovery builds everything again: the owners' answer to
 * a channel the broker closed or a consumer it cancelled (a deleted queue), which recovery alone only
 * notices when the whole connection goes.
 */
import amqp, { type ChannelModel, type RecoveringChannelModel } from 'amqplib';
import { BusStartError, busFailureOf, describeBusFailure } from './bus-start-errors.js';
import { amqpSocketOf, autocork } from './socket-autocork.js';

/** How long a start may try to connect and declare by default. */
export const BUS_START_TIMEOUT_MS = 30_000;
const REPORT_EVERY_MS = 10_000;

export interface BusConnectionOptions {
  readonly url: string;
  /** Shown to the broker (management UI, `rabbitmqctl list_connections`). */
  readonly name: string;
  readonly setup: (model: ChannelModel) => Promise<void>;
  readonly onDown: (error: Error) => void;
  readonly onError?: (error: Error) => void;
  /** Bound of the start (first connection and setup); 30 s by default. */
  readonly startTimeoutMs?: number;
  /** A reconnect attempt after the start failed (throttled; `suppressed` were not reported since). */
  readonly onConnectFailed?: (description: string, suppressed: number) => void;
}

export class BusConnection {
  private up = false;
  private closing = false;
  private model: RecoveringChannelModel | undefined;
  private current: ChannelModel | undefined;
  private lastReport = 0;
  private suppressed = 0;

  private constructor(private readonly options: BusConnectionOptions) {}

  /** Resolves once the first connection and its setup succeeded; keeps reconnecting after that. */
  static async open(options: BusConnectionOptions): Promise<BusConnection> {
    const connection = new BusConnection(options);
    const model = await amqp.connect(options.url, {
      // amqplib leaves Nagle's algorithm on: a publish or an ack, written as small frames, then waits for
      // the broker's delayed ACK, ~20 ms per bus hop at p50 (bench/dist/bus-queues.js --nagle shows it).
      noDelay: true,
      clientProperties: { connection_name: options.name },
      recovery: {
        initialDelay: 200,
        maxDelay: 5_000,
        waitForConnect: false,
        setup: async (channels: ChannelModel) => {
          connection.current = channels;
          const socket = amqpSocketOf(channels.connection);
          if (socket !== undefined) autocork(socket);
          await options.setup(channels);
          connection.up = true;
        },
      },
    });
    connection.model = model;
    model.on('disconnect', (error: Error) => {
      connection.up = false;
      options.onDown(error);
    });
    model.on('error', (error: Error) => options.onError?.(error));
    await connection.started(model, options.startTimeoutMs ?? BUS_START_TIMEOUT_MS);
    connection.up = true;
    model.on('connect-failed', (error: Error) => connection.report(error));
    return connection;
  }

  get connected(): boolean {
    return this.up;
  }

  /** Drops the current connection (if still ours to keep) so recovery reconnects and runs setup again. */
  reopen(): void {
    if (this.closing) return;
    this.up = false;
    void this.current?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.up = false;
    await this.model?.close().catch(() => undefined);
  }

  private started(model: RecoveringChannelModel, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let last: unknown = new Error(`no connection within ${timeoutMs} ms`);
      const fail = (error: unknown): void => {
        clearTimeout(timer);
        model.removeListener('connect-failed', attempt);
        this.closing = true;
        void model.close().catch(() => undefined);
        reject(new BusStartError(busFailureOf(error), describeBusFailure(error, this.options.url)));
      };
      const attempt = (error: Error): void => {
        last = error;
        // Retrying cannot fix a refused login, vhost or topology: say so now rather than after the bound.
        if (busFailureOf(error) !== 'bus_unreachable') fail(error);
      };
      const timer = setTimeout(() => fail(last), timeoutMs);
      model.on('connect-failed', attempt);
      model.waitForConnect().then(
        () => {
          clearTimeout(timer);
          model.removeListener('connect-failed', attempt);
          resolve();
        },
        (error: unknown) => fail(error),
      );
    });
  }

  private report(error: Error): void {
    if (this.closing) return;
    const now = Date.now();
    if (now - this.lastReport < REPORT_EVERY_MS) {
      this.suppressed += 1;
      return;
    }
    this.lastReport = now;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.options.onConnectFailed?.(describeBusFailure(error, this.options.url), suppressed);
  }
}
