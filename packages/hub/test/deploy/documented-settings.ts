/**
 * What docs/configuration.md documents for `sealstream serve`: the flags of its settings table (first
 * column), the environment variables (second column, plus variables named in the section's prose such as
 * SEALSTREAM_DASHBOARD_DIR) and each flag's documented default. The deploy artifacts are checked against
 * this, so an artifact cannot set what a reader of the docs would not find.
 */

export interface DocumentedSettings {
  readonly flags: ReadonlySet<string>;
  readonly env: ReadonlySet<string>;
  /** Flag (with `--`) -> the default column's text, backticks removed. */
  readonly defaults: ReadonlyMap<string, string>;
}

const ENV_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;

function backticked(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
}

/** Only the hub's section: the emitter's own variables further down are not `serve` settings. */
export function parseDocumentedSettings(markdown: string): DocumentedSettings {
  const section = markdown.split(/^## /m)[0] ?? '';
  const flags = new Set<string>();
  const env = new Set<string>();
  const defaults = new Map<string, string>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('|')) {
      for (const token of backticked(line)) if (ENV_NAME.test(token)) env.add(token);
      continue;
    }
    // Cells are separated by `|` not escaped as `\|` (the device-keys row has `dev1\|dev2`).
    const cells = line.split(/(?<!\\)\|/).slice(1, -1);
    const [flagCell = '', envCell = '', defaultCell = ''] = cells;
    const rowFlags = backticked(flagCell).filter((token) => /^--[a-z0-9-]+$/.test(token));
    for (const flag of rowFlags) {
      flags.add(flag);
      defaults.set(flag, defaultCell.replaceAll('`', '').trim());
    }
    for (const token of backticked(envCell)) {
      const name = token.split('=')[0] ?? '';
      if (ENV_NAME.test(name)) env.add(name);
    }
  }
  return { flags, env, defaults };
}
