/**
 * Keeps dependencies pointing one way:
 *   cli -> http/ingest/live/store -> registry -> pipeline -> protocol
 * protocol depends on nothing of ours; the pipeline never imports an implementation of its ports;
 * libraries never import the cli; the dashboard imports protocol contract types, and at run time only
 * the reason catalogue (plain data).
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'protocol-is-a-leaf',
      comment: 'The protocol package is pure codecs: only node built-ins.',
      severity: 'error',
      from: { path: '^packages/protocol/src' },
      to: { pathNot: ['^packages/protocol/src', '^node:', 'crypto$', 'buffer$'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'testkit-spawns-the-built-cli-only',
      comment: 'The test kit starts the hub as a process; it imports none of our packages, so it tests what users run.',
      severity: 'error',
      from: { path: '^packages/testkit/src' },
      to: { path: '^packages/(hub|emitter|dashboard|protocol)/' },
    },
    {
      name: 'emitter-uses-protocol-only',
      severity: 'error',
      from: { path: '^packages/emitter/src' },
      to: { path: '^packages/(hub|dashboard)/' },
    },
    {
      name: 'pipeline-depends-on-ports-not-implementations',
      comment: 'store, live, ingest, http, cli implement or drive the pipeline; the pipeline never imports them.',
      severity: 'error',
      from: { path: '^packages/hub/src/pipeline' },
      to: { path: '^packages/hub/src/(store|live|ingest|http|cli|config|observability|bus|shared-state)/' },
    },
    {
      name: 'store-and-live-implement-ports-only',
      severity: 'error',
      from: { path: '^packages/hub/src/(store|live)/' },
      to: { path: '^packages/hub/src/(ingest|http|cli)/' },
    },
    {
      name: 'bus-and-shared-state-implement-ports-only',
      comment:
        "The RabbitMQ bus carries the pipeline's batches and Redis holds shared windows; they know the ports, never the doors, the API or the store.",
      severity: 'error',
      from: { path: '^packages/hub/src/(bus|shared-state)/' },
      to: { path: '^packages/hub/src/(ingest|http|cli|store|live|config)/' },
    },
    {
      name: 'registry-depends-on-ports-not-implementations',
      comment: 'The device registry owns keys and API keys; storage implements its port, the API and CLI drive it.',
      severity: 'error',
      from: { path: '^packages/hub/src/registry' },
      to: { path: '^packages/hub/src/(store|live|ingest|http|cli|config|observability)/' },
    },
    {
      name: 'only-the-cli-wires-apps',
      comment: 'Libraries never import the app layer.',
      severity: 'error',
      from: { path: '^packages/hub/src', pathNot: '^packages/hub/src/cli/' },
      to: { path: '^packages/hub/src/cli/' },
    },
    {
      name: 'contract-is-a-leaf',
      comment: 'The REST contract is TypeBox schemas and their types: no I/O, nothing of ours.',
      severity: 'error',
      from: { path: '^packages/contract/src' },
      to: { pathNot: ['^packages/contract/src', '@sinclair/typebox'] },
    },
    {
      name: 'dashboard-takes-the-rest-contract-as-types-only',
      comment:
        'The dashboard derives its REST types from the contract (`import type`); the schemas themselves ' +
        '(and TypeBox) never reach the browser bundle.',
      severity: 'error',
      from: { path: '^packages/dashboard/src' },
      to: { path: '^packages/contract/src', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'dashboard-imports-contract-types-only',
      severity: 'error',
      from: { path: '^packages/dashboard/src' },
      to: { path: '^packages/(hub|emitter)/' },
    },
    {
      name: 'dashboard-bundles-only-the-reason-catalogue',
      comment:
        'The browser bundle may take the reason catalogue (plain data, no imports) from the protocol at run time; ' +
        'everything else of the protocol only as types, so no codec or node:crypto reaches the page.',
      severity: 'error',
      from: { path: '^packages/dashboard/src' },
      to: {
        path: '^packages/protocol/src',
        pathNot: '^packages/protocol/src/reasons[.]ts$',
        dependencyTypesNot: ['type-only'],
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|test)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.check.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
