/** The main navigation between views: plain links to hash routes, the current one marked for screen readers. */
import type { ViewName } from '../routes.js';
import { hashOf, VIEWS } from '../routes.js';

interface NavTabsProps {
  readonly current: ViewName;
}

export function NavTabs({ current }: NavTabsProps) {
  return (
    <nav className="nav-tabs" aria-label="Views">
      <ul>
        {VIEWS.map((view) => (
          <li key={view.name}>
            <a
              href={hashOf(view.name)}
              aria-current={view.name === current ? 'page' : undefined}
              data-testid={`nav-${view.name}`}
            >
              {view.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
