/**
 * The container image's HEALTHCHECK: asks the hub's own `GET /healthz` and exits 0 when it answers 2xx
 * (`ok`, or `degraded` while a broker reconnects: the hub still serves its other doors), 1 otherwise.
 * Node instead of curl because the slim base image has no curl. It asks the monitor port when one is
 * set (a flood on the HTTP port cannot shut it out), else the HTTP port, on loopback: the image binds
 * 0.0.0.0, so give `SEALSTREAM_HOST` a value that includes 127.0.0.1 if you change it.
 */
const { SEALSTREAM_MONITOR_PORT: monitor, SEALSTREAM_HTTP_PORT: http } = process.env;
const port = monitor !== undefined && monitor !== '' && monitor !== 'off' ? monitor : http || '8080';

try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
