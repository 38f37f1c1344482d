/**
 * A disabled or deleted account's live stream ends at once: its open Socket.IO connections are closed
 * when an admin disables or deletes it, not when its token expires (up to the token's lifetime), while
 * other accounts' streams go on; and it cannot open a new one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import type { SqlReadingStore } from '../../src/store/index.js';
import { startTestHub, type TestHub } from '../support/test-hub.js';
import { sleep, waitUntil } from './hostile-harness.js';

describe('live streams of a disabled account', () => {
  let hub: TestHub;
  const clients: ClientSocket[] = [];

  beforeAll(async () => {
    hub = await startTestHub('pglite');
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await hub?.stop();
  });

  async function account(username: string, role: 'viewer' | 'admin'): Promise<{ id: string; token: string }> {
    const created = await (hub.hub.store as unknown as SqlReadingStore).createUser({
      username,
      role,
      passwordHash: 'scrypt$unused',
    });
    if (!created.ok) throw new Error(`could not create ${username}`);
    return { id: created.user.id, token: hub.hub.http.jwt.sign({ sub: created.user.id, role }) };
  }

  function live(token: string, transport: 'websocket' | 'polling'): ClientSocket {
    const client = ioClient(`http://127.0.0.1:${hub.hub.ports.http}`, {
      auth: { protocol: 2, token },
      transports: [transport],
      reconnection: false,
    });
    clients.push(client);
    return client;
  }

  it('closes every live connection of the account when it is disabled; others stay', async () => {
    const admin = await account('live-admin', 'admin');
    const viewer = await account('live-viewer', 'viewer');
    const other = await account('live-other', 'viewer');
    const streams = [live(viewer.token, 'websocket'), live(viewer.token, 'polling')];
    const bystander = live(other.token, 'websocket');
    await waitUntil(() => streams.every((client) => client.connected) && bystander.connected, 'live clients connected');

    const disconnected = streams.map(
      (client) => new Promise<string>((resolve) => client.once('disconnect', (reason) => resolve(reason))),
    );
    const answer = await fetch(`http://127.0.0.1:${hub.hub.ports.http}/api/v1/users/${viewer.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ disabled: true }),
    });
    expect(answer.status).toBe(200);
    const reasons = await Promise.race([Promise.all(disconnected), sleep(3000).then(() => null)]);
    expect(reasons, 'the disabled account was disconnected at once').toEqual([
      'io server disconnect',
      'io server disconnect',
    ]);
    await sleep(200);
    expect(bystander.connected).toBe(true);

    // And it cannot come back with the same token.
    const again = live(viewer.token, 'websocket');
    const refusal = await new Promise<string>((resolve) =>
      again.once('connect_error', (error) => resolve(error.message)),
    );
    expect(refusal).toBe('unauthorized');
  });

  it('closes the live connections of a deleted account', async () => {
    const admin = await account('live-admin-2', 'admin');
    const doomed = await account('live-doomed', 'viewer');
    const stream = live(doomed.token, 'websocket');
    await waitUntil(() => stream.connected, 'live client connected');
    const disconnected = new Promise<string>((resolve) => stream.once('disconnect', (reason) => resolve(reason)));
    const answer = await fetch(`http://127.0.0.1:${hub.hub.ports.http}/api/v1/users/${doomed.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin.token}` },
    });
    expect(answer.status).toBe(204);
    expect(await Promise.race([disconnected, sleep(3000).then(() => null)])).toBe('io server disconnect');
    const gone = await fetch(`http://127.0.0.1:${hub.hub.ports.http}/api/v1/users/${doomed.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin.token}` },
    });
    expect(gone.status).toBe(404);
    const self = await fetch(`http://127.0.0.1:${hub.hub.ports.http}/api/v1/users/${admin.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin.token}` },
    });
    expect(self.status).toBe(409);
  });
});
