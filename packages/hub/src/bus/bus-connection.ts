/**
 * One RabbitMQ connection that comes back by itself (amqplib's recovery, exponential backoff with
 * jitter) and runs `setup` on every (re)connection, so channels, topology and consumers are rebuilt
 * after a broker restart or a cut connection. Owners learn of losses through `onDown`.
 */
import amqp, { type ChannelModel, type RecoveringChannelModel } from 'amqplib';

export interface BusConnectionOptions {
  readonly url: string;
  /** Shown to the broker (management UI, `rabbitmqctl list_connections`). */
  readonly name: string;
  readonly setup: (model: ChannelModel) => Promise<void>;
  readonly onDown: (error: Error) => void;
  readonly onError?: (error: Error) => void;
}

export class BusConnection {
  private up = false;
  private model: RecoveringChannelModel | undefined;

  private constructor() {}

  /** Resolves once the first connection and its setup succeeded; keeps reconnecting after that. */
  static async open(options: BusConnectionOptions): Promise<BusConnection> {
    const connection = new BusConnection();
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
    await model.waitForConnect();
    connection.up = true;
    return connection;
  }

  get connected(): boolean {
    return this.up;
  }

  async close(): Promise<void> {
    this.up = false;
    await this.model?.close().catch(() => undefined);
  }
}
