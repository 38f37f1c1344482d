import { describe, expect, it } from 'vitest';
import { withMasterKeyAdvice } from '../../src/cli/registry-wiring.js';
import { MasterKeyMissingError } from '../../src/registry/registry-keyring.js';
import { SealedSecretError } from '../../src/registry/secret-sealer.js';

describe('withMasterKeyAdvice (start-up with stored device keys that do not open)', () => {
  it('says how to go on, and where a demo store keeps its key', () => {
    const advised = withMasterKeyAdvice(new SealedSecretError('k-1'), 'data/master.key') as Error;
    expect(advised.message).toBe(
      'registry: the stored secret of key k-1 does not open with this master key (wrong master key or altered ' +
        'row). Start with the master key its devices were registered under (this store was first used with ' +
        '--demo, which keeps its key in data/master.key: SEALSTREAM_MASTER_KEY=$(cat data/master.key)), or on ' +
        'another --data-dir or database (docs/operations.md, "Device registry and the master key")',
    );
    const missing = withMasterKeyAdvice(new MasterKeyMissingError(2), null) as Error;
    expect(missing.message).toMatch(
      /^registry: the database holds 2 device key\(s\) but no master key .*\. Start with/,
    );
    expect(missing.message).not.toContain('--demo');
  });

  it('leaves other errors as they are', () => {
    const other = new Error('store: boom');
    expect(withMasterKeyAdvice(other, 'data/master.key')).toBe(other);
  });
});
