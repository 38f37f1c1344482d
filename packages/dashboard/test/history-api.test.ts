// Tests for the export download link answer check: only a same-origin export path is ever followed.
import { describe, expect, it } from 'vitest';
import { parseExportLink } from '../src/api/history-api.js';

describe('parseExportLink', () => {
  const url = `/api/v1/exports/${'a'.repeat(43)}`;
  it('accepts the hub answer', () => {
    expect(parseExportLink({ url, expiresAt: 5 })).toEqual({ url, expiresAt: 5 });
  });
  it('refuses anything that is not a path of an export link on this hub', () => {
    for (const bad of [
      'https://elsewhere.example/api/v1/exports/x',
      '//evil/api/v1/exports/x',
      'javascript:alert(1)',
      '/api/v1/devices',
    ]) {
      expect(parseExportLink({ url: bad, expiresAt: 5 })).toBeNull();
    }
    expect(parseExportLink({ url })).toBeNull();
    expect(parseExportLink(null)).toBeNull();
  });
});
