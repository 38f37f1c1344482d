/**
 * The registry, API-key and re-drive routes against a real app over real PGlite: secrets are shown
 * once and never again; keys issued over HTTP seal frames the pipeline accepts, rotation and
 * revocation take effect on the next frame; API keys act with the role of their scopes and stop
 * working when revoked; dead letters are downloadable whole and re-drivable once fixed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startApiHarness, type ApiHarness } from '../support/api-harness.js';
import { readingsOf, send } from '../registry/registry-frames.js';

let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness('pglite');
});
afterAll(async () => {
  await api?.stop();
});

interface Issued {
  device: { id: string; status: string };
  key: { keyId: string; secret: string; deviceToken: string; status: string };
}

describe('device registry routes', () => {
  it('registers a device, shows its secret once, and its frames are accepted until revoked', async () => {
    const created = await call(api.base, 'POST', '/api/v1/devices', {
      token: api.tokens.operator,
      body: { id: 'route-dev-1', name: 'north gate' },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const issued = created.body as Issued;
    expect(issued.key.secret).toMatch(/^[0-9a-f]{64}$/);

    const described = await call(api.base, 'GET', '/api/v1/devices/route-dev-1', { token: api.tokens.viewer });
    expect(described.status).toBe(200);
    expect(JSON.stringify(described.body)).not.toContain(issued.key.secret);
    expect(described.body).toMatchObject({ device: { id: 'route-dev-1', name: 'north gate', status: 'active' } });

    const list = await call(api.base, 'GET', '/api/v1/devices?limit=1000', { token: api.tokens.viewer });
    const items = (list.body as { items: Array<{ device: string; registered: boolean; lastSeen: number | null }> })
      .items;
    expect(items.find((d) => d.device === 'route-dev-1')).toMatchObject({ registered: true, lastSeen: null });

    const ok = await send(api.registry.pipeline, issued.key.keyId, issued.key.secret, readingsOf('route-dev-1', 1, 3));
    expect(ok).toMatchObject({ kind: 'ack', accepted: 3 });

    const rotated = await call(api.base, 'POST', '/api/v1/devices/route-dev-1/keys', {
      token: api.tokens.operator,
      body: { overlapSeconds: 0 },
    });
    expect(rotated.status).toBe(201);
    const next = (rotated.body as { key: Issued['key']; previous: Array<{ keyId: string }> }).key;
    expect((rotated.body as { previous: Array<{ keyId: string }> }).previous.map((k) => k.keyId)).toEqual([
      issued.key.keyId,
    ]);
    // Overlap 0: the old key is refused at once, the new one works.
    expect(
      await send(api.registry.pipeline, issued.key.keyId, issued.key.secret, readingsOf('route-dev-1', 10, 1)),
    ).toMatchObject({
      kind: 'error',
      reason: 'revoked_key',
    });
    expect(await send(api.registry.pipeline, next.keyId, next.secret, readingsOf('route-dev-1', 10, 1))).toMatchObject({
      kind: 'ack',
      accepted: 1,
    });

    const revoked = await call(api.base, 'POST', '/api/v1/devices/route-dev-1/revoke', { token: api.tokens.operator });
    expect(revoked.body).toMatchObject({ status: 'revoked' });
    expect(await send(api.registry.pipeline, next.keyId, next.secret, readingsOf('route-dev-1', 11, 1))).toMatchObject({
      kind: 'error',
      reason: 'revoked_key',
    });
    const again = await call(api.base, 'POST', '/api/v1/devices/route-dev-1/keys', { token: api.tokens.operator });
    expect(again.status).toBe(409);
  });

  it('answers 409 for a taken id, 404 for an unknown device or key, 400 for a bad id', async () => {
    await call(api.base, 'POST', '/api/v1/devices', { token: api.tokens.operator, body: { id: 'route-dev-2' } });
    const taken = await call(api.base, 'POST', '/api/v1/devices', {
      token: api.tokens.operator,
      body: { id: 'route-dev-2' },
    });
    expect(taken.status).toBe(409);
    expect((await call(api.base, 'GET', '/api/v1/devices/nope', { token: api.tokens.viewer })).status).toBe(404);
    const noKey = await call(api.base, 'POST', '/api/v1/devices/route-dev-2/keys/k-0000000000000000/revoke', {
      token: api.tokens.operator,
    });
    expect(noKey.status).toBe(404);
    const bad = await call(api.base, 'POST', '/api/v1/devices', {
      token: api.tokens.operator,
      body: { id: 'white space' },
    });
    expect(bad.status).toBe(400);
  });
});

describe('API keys', () => {
  const issue = async (scopes: string[]): Promise<{ id: string; secret: string }> => {
    const answer = await call(api.base, 'POST', '/api/v1/api-keys', {
      token: api.tokens.admin,
      body: { name: `k-${scopes.join('-')}`, scopes },
    });
    expect(answer.status).toBe(201);
    const body = answer.body as { apiKey: { id: string }; secret: string };
    return { id: body.apiKey.id, secret: body.secret };
  };

  it('a read key reads (X-API-Key or Bearer) but may not manage; a manage key manages but is never admin', async () => {
    const read = await issue(['read']);
    expect((await call(api.base, 'GET', '/api/v1/devices', { apiKey: read.secret })).status).toBe(200);
    expect((await call(api.base, 'GET', '/api/v1/devices', { token: read.secret })).status).toBe(200);
    const refused = await call(api.base, 'POST', '/api/v1/devices', {
      apiKey: read.secret,
      body: { id: 'by-read-key' },
    });
    expect(refused.status).toBe(403);

    const manage = await issue(['manage']);
    const made = await call(api.base, 'POST', '/api/v1/devices', {
      apiKey: manage.secret,
      body: { id: 'by-manage-key' },
    });
    expect(made.status).toBe(201);
    expect((await call(api.base, 'GET', '/api/v1/users', { apiKey: manage.secret })).status).toBe(403);
    expect((await call(api.base, 'GET', '/api/v1/api-keys', { apiKey: manage.secret })).status).toBe(403);

    const unknownScope = await call(api.base, 'POST', '/api/v1/api-keys', {
      token: api.tokens.admin,
      body: { name: 'bad', scopes: ['admin'] },
    });
    expect(unknownScope.status).toBe(400);
  });

  it('a revoked, altered or unknown key is refused with 401; listings never show secrets', async () => {
    const key = await issue(['read']);
    const altered = `${key.secret.slice(0, -1)}${key.secret.endsWith('A') ? 'B' : 'A'}`;
    expect((await call(api.base, 'GET', '/api/v1/devices', { apiKey: altered })).status).toBe(401);
    expect((await call(api.base, 'GET', '/api/v1/devices', { apiKey: 'ssk_000000000000_x' })).status).toBe(401);
    const revoked = await call(api.base, 'POST', `/api/v1/api-keys/${key.id}/revoke`, { token: api.tokens.admin });
    expect(revoked.body).toMatchObject({ id: key.id, revokedAt: expect.any(Number) });
    const after = await call(api.base, 'GET', '/api/v1/devices', { apiKey: key.secret });
    expect(after.status).toBe(401);
    expect(JSON.stringify(after.body)).not.toContain(key.secret);
    const listed = await call(api.base, 'GET', '/api/v1/api-keys', { token: api.tokens.admin });
    const text = JSON.stringify(listed.body);
    // The secret part is base64url and may itself contain '_': take all of it after `ssk_<id>_`.
    const secretPart = key.secret.split('_').slice(2).join('_');
    expect(secretPart).toHaveLength(43);
    expect(text).not.toContain(secretPart);
    expect(text).not.toMatch(/hash/i);
  });
});

describe('dead-letter raw bytes and re-drive', () => {
  const letterFor = async (
    device: string,
    seq: number,
    options: { truncated?: boolean; reason?: 'timestamp_out_of_range' | 'device_not_allowed' } = {},
  ): Promise<string> => {
    const reading = { device, seq, ts: Date.now(), data: { v: seq } };
    await api.store.commit({
      readings: [],
      deadLetters: [
        {
          reason: options.reason ?? 'timestamp_out_of_range',
          source: 'tcp',
          peer: '127.0.0.1:9',
          device,
          detail: `refused reading of ${device}`,
          raw: Buffer.from(JSON.stringify(reading)),
          truncated: options.truncated ?? false,
          receivedAt: Date.now(),
        },
      ],
    });
    const page = await api.store.deadLetterPage({ filter: { device }, limit: 10, before: null });
    const id = page.items[0]?.id;
    if (id === undefined) throw new Error('dead letter not stored');
    return id;
  };

  it('downloads the stored bytes whole', async () => {
    const id = await letterFor('redrive-raw', 1);
    const response = await fetch(`${api.base}/api/v1/dead-letters/${id}/raw`, {
      headers: { authorization: `Bearer ${api.tokens.viewer}` },
    });
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    const body = JSON.parse(Buffer.from(await response.arrayBuffer()).toString()) as { device: string };
    expect(body.device).toBe('redrive-raw');
  });

  it('refuses while the cause stands, accepts once it is fixed, then reports a duplicate; records each', async () => {
    const id = await letterFor('redrive-dev', 7);
    const path = `/api/v1/dead-letters/${id}/redrive`;
    const before = await call(api.base, 'POST', path, { token: api.tokens.operator });
    expect(before.body).toMatchObject({ outcome: 'refused', reason: 'unknown_key' });

    await api.registry.devices.register({ id: 'redrive-dev', name: null });
    const fixed = await call(api.base, 'POST', path, { token: api.tokens.operator });
    expect(fixed.body).toMatchObject({ outcome: 'accepted', accepted: 1 });
    const page = await api.store.readingPage({
      device: 'redrive-dev',
      fromMs: 0,
      toMs: Date.now() + 60_000,
      limit: 10,
      after: null,
    });
    expect(page.items.map((r) => r.seq)).toEqual([7]);

    const twice = await call(api.base, 'POST', path, { token: api.tokens.operator });
    expect(twice.body).toMatchObject({ outcome: 'duplicate' });
    const listed = await call(api.base, 'GET', '/api/v1/dead-letters?device=redrive-dev', { token: api.tokens.viewer });
    expect((listed.body as { items: unknown[] }).items[0]).toMatchObject({
      id,
      redriveOutcome: 'duplicate',
      redrivenAt: expect.any(Number),
    });
  });

  it('never re-drives a reading refused as device_not_allowed: its sealing key was not shown to speak for it', async () => {
    // The forgery this guards against: the holder of one device's key claims another (registered) device.
    await api.registry.devices.register({ id: 'redrive-victim', name: null });
    const id = await letterFor('redrive-victim', 4242, { reason: 'device_not_allowed' });
    const answer = await call(api.base, 'POST', `/api/v1/dead-letters/${id}/redrive`, { token: api.tokens.operator });
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ error: { details: { reason: 'not_redrivable' } } });
    const page = await api.store.readingPage({
      device: 'redrive-victim',
      fromMs: 0,
      toMs: Date.now() + 60_000,
      limit: 10,
      after: null,
    });
    expect(page.items).toEqual([]);
  });

  it('answers 409 for a letter that cannot be re-driven (cut-off bytes) and 404 for an unknown id', async () => {
    const id = await letterFor('redrive-cut', 1, { truncated: true });
    const cut = await call(api.base, 'POST', `/api/v1/dead-letters/${id}/redrive`, { token: api.tokens.operator });
    expect(cut.status).toBe(409);
    expect(cut.body).toMatchObject({ error: { code: 'conflict', details: { reason: 'not_redrivable' } } });
    expect(
      (await call(api.base, 'POST', '/api/v1/dead-letters/999999999/redrive', { token: api.tokens.operator })).status,
    ).toBe(404);
  });
});
