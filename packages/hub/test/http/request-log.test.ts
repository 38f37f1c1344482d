/** The request log never holds a working download ticket, however the path to it is spelled. */
import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/http/request-log.js';

const TICKET = 'A'.repeat(20) + '-_' + 'z9'.repeat(10) + 'Q';

describe('redactUrl', () => {
  it.each([
    [`/api/v1/exports/${TICKET}`, '/api/v1/exports/[redacted]'],
    [`/api/v1/exports/${TICKET}?x=1`, '/api/v1/exports/[redacted]?x=1'],
    [`/API/V1/EXPORTS/${TICKET}`, '/API/V1/EXPORTS/[redacted]'],
    [`/api/v1/%65xports/${TICKET}`, '/api/v1/%65xports/[redacted]'],
    [`/api/v1/exports/short`, '/api/v1/exports/[redacted]'],
  ])('%s', (url, logged) => {
    expect(TICKET).toHaveLength(43);
    expect(redactUrl(url)).toBe(logged);
  });

  it('leaves other paths alone', () => {
    expect(redactUrl('/api/v1/devices/sensor-1/readings?limit=10')).toBe('/api/v1/devices/sensor-1/readings?limit=10');
  });
});
