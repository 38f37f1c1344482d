/**
 * The page's views and their addresses: hash routes (#/live, #/history, #/devices, #/dead-letters),
 * so the hub serves one index.html and a reload or a shared link opens the same view.
 */

export type ViewName = 'live' | 'history' | 'devices' | 'dead-letters';

export interface ViewLink {
  readonly name: ViewName;
  readonly label: string;
}

export const VIEWS: readonly ViewLink[] = [
  { name: 'live', label: 'Live' },
  { name: 'history', label: 'History' },
  { name: 'devices', label: 'Devices' },
  { name: 'dead-letters', label: 'Dead letters' },
];

export function viewFromHash(hash: string): ViewName {
  const name = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return VIEWS.find((view) => view.name === name)?.name ?? 'live';
}

export function hashOf(view: ViewName): string {
  return `#/${view}`;
}
