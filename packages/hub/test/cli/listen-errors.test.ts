import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { describeListenError } from '../../src/cli/listen-errors.js';

const PORTS = { httpPort: 8080, tcpPort: 7700, legacyPort: null, monitorPort: null };

/** The error Node gives a server whose port is taken. */
async function portInUse(): Promise<{ error: Error; port: number }> {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as AddressInfo).port;
  const second = createServer();
  const error = await new Promise<Error>((resolve) => {
    second.once('error', resolve);
    second.listen(port, '127.0.0.1');
  });
  await new Promise<void>((resolve) => holder.close(() => resolve()));
  return { error, port };
}

describe('describeListenError', () => {
  it('names the port, the flag that chose it and what to do when the port is taken', async () => {
    const { error, port } = await portInUse();
    const message = describeListenError(error, { ...PORTS, httpPort: port });
    expect(message).toBe(
      `port ${port} on 127.0.0.1 (--http-port) is already in use (EADDRINUSE): another program, perhaps another ` +
        'hub, listens there. Stop it, or start this hub with another --http-port (0 takes any free port)',
    );
    expect(describeListenError(error, { ...PORTS, tcpPort: port })).toMatch(
      /\(--tcp-port\) is already in use .* another --tcp-port \(0 takes any free port, "off" closes that door\)$/,
    );
  });

  it('says how to choose when the port is not one the configuration names', async () => {
    const { error, port } = await portInUse();
    expect(describeListenError(error, PORTS)).toBe(
      `port ${port} on 127.0.0.1 is already in use (EADDRINUSE): another program, perhaps another hub, listens ` +
        'there. Stop it, or start this hub with another port flag (0 takes any free port)',
    );
  });

  it('leaves every other error alone', () => {
    expect(describeListenError(new Error('store: boom'), PORTS)).toBeUndefined();
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' });
    expect(describeListenError(refused, PORTS)).toBeUndefined();
  });
});
