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

  const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';
  it.each([
    [`/api/v1/stats?access_token=${JWT}`, '/api/v1/stats?access_token=[redacted]'],
    ['/api/v1/stats?limit=5&token=abc&from=1', '/api/v1/stats?limit=5&token=[redacted]&from=1'],
    ['/x?%74oken=abc', '/x?%74oken=[redacted]'],
    ['/x?access+token=abc', '/x?access+token=[redacted]'],
    ['/x?X-Amz-Signature=abc&apiKey=def', '/x?X-Amz-Signature=[redacted]&apiKey=[redacted]'],
    ['/x?client_secret=a&password=b&auth=c', '/x?client_secret=[redacted]&password=[redacted]&auth=[redacted]'],
    ['/x?token', '/x?token=[redacted]'],
    [`/x?${JWT}`, '/x?[redacted]'],
    [`/x/${JWT}/y`, '/x/[redacted]/y'],
    ['/x?k=ssk_abcdef123', '/x?k=[redacted]'],
    ['/x?token=a#frag', '/x?token=[redacted]#frag'],
  ])('redacts credentials in the query: %s', (url, logged) => {
    expect(redactUrl(url)).toBe(logged);
  });

  it('leaves other paths alone', () => {
    expect(redactUrl('/api/v1/devices/sensor-1/readings?limit=10')).toBe('/api/v1/devices/sensor-1/readings?limit=10');
  });
});
