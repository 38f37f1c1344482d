/**
 * A TCP proxy between devices and the hub that can cut connections: `cutOne()` destroys a random
 * device connection and its upstream at once, mid-frame or mid-ACK, as a flaky network or a NAT
 * timeout would. Listens on 127.0.0.1 on an ephemeral port.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

interface Pair {
  readonly device: Socket;
  readonly hub: Socket;
}

export class CuttingProxy {
  cuts = 0;
  connections = 0;
  private readonly pairs = new Set<Pair>();

  private constructor(private readonly server: Server) {}

  static async start(hubPort: number): Promise<CuttingProxy> {
    const server = createServer();
    const proxy = new CuttingProxy(server);
    server.on('connection', (device) => proxy.accept(device, hubPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get open(): number {
    return this.pairs.size;
  }

  /** Destroys one random live connection (both directions); false when none is open. */
  cutOne(random: () => number = Math.random): boolean {
    const pairs = [...this.pairs];
    const pair = pairs[Math.floor(random() * pairs.length)];
    if (pair === undefined) return false;
    this.cuts += 1;
    this.drop(pair);
    return true;
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) this.drop(pair);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(device: Socket, hubPort: number): void {
    this.connections += 1;
    const hub = connect({ host: '127.0.0.1', port: hubPort, noDelay: true });
    const pair: Pair = { device, hub };
    this.pairs.add(pair);
    device.setNoDelay(true);
    device.pipe(hub);
    hub.pipe(device);
    const drop = (): void => this.drop(pair);
    for (const socket of [device, hub]) {
      socket.on('error', drop);
      socket.on('close', drop);
    }
  }

  private drop(pair: Pair): void {
    this.pairs.delete(pair);
    pair.device.destroy();
    pair.hub.destroy();
  }
}
