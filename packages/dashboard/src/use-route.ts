/** The current view from the address hash, following back/forward and links. */
import { useEffect, useState } from 'react';
import type { ViewName } from './routes.js';
import { viewFromHash } from './routes.js';

export function useRoute(): ViewName {
  const [view, setView] = useState<ViewName>(() => viewFromHash(window.location.hash));
  useEffect(() => {
    const onChange = (): void => setView(viewFromHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return view;
}
