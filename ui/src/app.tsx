/**
 * The shell: a skip link, the navigation, the connection banner and the current view. Routing is by
 * the URL's hash (#/services, #/kv/a/b/), so every view has a link to share and the agent serves one
 * page; the browser's back and forward work. Moving to a view focuses its heading (for screen readers
 * and keyboard users the page change is announced like a new page); the first load leaves focus at the
 * top, where the first Tab reaches the skip link.
 */
import { useEffect, useRef, useSyncExternalStore } from 'react';
import { setDatacenter, useBlocking, useDatacenter } from './api.js';
import { ConnectionBanner } from './components.js';
import { AclView } from './views/acl.js';
import { ClusterView } from './views/cluster.js';
import { KvView } from './views/kv.js';
import { NodesView, NodeView } from './views/nodes.js';
import { ServicesView, ServiceView } from './views/services.js';
import { SessionsView } from './views/sessions.js';
import { SimView } from './views/sim.js';

function useHash(): string {
  return useSyncExternalStore(
    (l) => {
      window.addEventListener('hashchange', l);
      return () => window.removeEventListener('hashchange', l);
    },
    () => location.hash,
  );
}

const sections = [
  { id: 'services', label: 'Services' },
  { id: 'nodes', label: 'Nodes' },
  { id: 'kv', label: 'Key/value' },
  { id: 'sessions', label: 'Sessions & locks' },
  { id: 'cluster', label: 'Cluster insides' },
  { id: 'acl', label: 'ACL token' },
] as const;

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The datacenter picker: shown when the agent knows more than one datacenter (catalog/datacenters,
 * nearest first); the choice adds `?dc=` to the views' requests. The agent's own DC (agent/self) means
 * "no ?dc=": it is not always first in the list (before the WAN coordinates settle the order is by name).
 */
function DatacenterPicker() {
  const list = useBlocking<string[]>('/v1/catalog/datacenters', 30_000);
  const self = useBlocking<{ Config?: { Datacenter?: string } }>('/v1/agent/self', 60_000);
  const dc = useDatacenter();
  const names = list.data ?? [];
  const own = self.data?.Config?.Datacenter ?? names[0];
  if (names.length < 2 || own === undefined) return null;
  return (
    <label className="dc-picker">
      Datacenter{' '}
      <select
        value={dc === '' ? own : dc}
        onChange={(e) => setDatacenter(e.target.value === own ? '' : e.target.value)}
      >
        {names.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
    </label>
  );
}

export function App() {
  const hash = useHash();
  const route = hash.replace(/^#\/?/, '');
  const slash = route.indexOf('/');
  const section = slash < 0 ? route : route.slice(0, slash);
  const rest = slash < 0 ? '' : route.slice(slash + 1);
  useEffect(() => {
    if (route === '') location.replace('#/services');
  }, [route]);
  const previousRoute = useRef<string | null>(null);
  useEffect(() => {
    // Not on the first load (nor its redirect to #/services): there the keyboard starts at the top,
    // where the skip link comes first.
    if (previousRoute.current) document.getElementById('page-title')?.focus({ preventScroll: true });
    previousRoute.current = route;
    const label = sections.find((s) => s.id === section)?.label;
    document.title = section === 'sim' ? 'Simulated run · Conclave' : label ? `${label} · Conclave` : 'Conclave';
  }, [section, rest]);
  let view;
  switch (section) {
    case 'services':
      view = rest ? <ServiceView name={decodeSegment(rest)} /> : <ServicesView />;
      break;
    case 'nodes':
      view = rest ? <NodeView name={decodeSegment(rest)} /> : <NodesView />;
      break;
    case 'kv':
      view = <KvView path={rest.split('/').map(decodeSegment).join('/')} />;
      break;
    case 'sessions':
      view = <SessionsView />;
      break;
    case 'cluster':
      view = <ClusterView />;
      break;
    case 'acl':
      view = <AclView />;
      break;
    case 'sim':
      view = <SimView />;
      break;
    default:
      view = <p>Nothing here: choose a view above.</p>;
  }
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header>
        <span className="brand">Conclave</span>
        {section === 'sim' ? (
          <span>simulated run (conclave sim serve)</span>
        ) : (
          <nav aria-label="Views">
            <ul>
              {sections.map((s) => (
                <li key={s.id}>
                  <a href={`#/${s.id}${s.id === 'kv' ? '/' : ''}`} aria-current={s.id === section ? 'page' : undefined}>
                    {s.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {section === 'sim' ? null : <DatacenterPicker />}
      </header>
      <ConnectionBanner />
      <main id="main" tabIndex={-1}>
        {view}
      </main>
    </>
  );
}
