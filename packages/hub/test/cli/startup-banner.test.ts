import { describe, expect, it } from 'vitest';
import { DEMO_DEFAULTS } from '../../src/cli/demo-defaults.js';
import { startupBanner } from '../../src/cli/startup-banner.js';
import { loadConfig } from '../../src/config/load-config.js';

function demoBanner(argv: string[], ports: { tcp: number | null; legacy: number | null }): string {
  const loaded = loadConfig(['--demo', ...argv], {}, DEMO_DEFAULTS);
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));
  return startupBanner(loaded.config, { ports: { http: 8080, monitor: null, ...ports }, demoAdmin: null });
}

describe('startupBanner, demo traffic', () => {
  it('names the demo devices and says that the legacy emitter corrupts some tokens on purpose', () => {
    expect(demoBanner([], { tcp: 7700, legacy: 4000 })).toContain(
      "  Demo devices:    5 native at 50 readings/s total, plus the seed's legacy burst emitter\n" +
        '                   (1 % of its tokens corrupted on purpose, so refusals show)\n',
    );
  });

  it('claims no demo traffic on a door that is off', () => {
    const nativeOnly = demoBanner(['--legacy-port', 'off'], { tcp: 7700, legacy: null });
    expect(nativeOnly).toContain('Demo devices:    5 native at 50 readings/s total\n');
    const legacyOnly = demoBanner(['--tcp-port', 'off'], { tcp: null, legacy: 4000 });
    expect(legacyOnly).toMatch(/Demo devices: {4}the seed's legacy burst emitter\n {19}\(1 % of its tokens/);
    const none = demoBanner(['--tcp-port', 'off', '--legacy-port', 'off'], { tcp: null, legacy: null });
    expect(none).toContain('Demo devices:    none (the native and legacy ports are off)');
  });
});
