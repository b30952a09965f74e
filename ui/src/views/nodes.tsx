/** Nodes: every node with its address and health; one node's checks, services and coordinate. */
import { useState } from 'react';
import { useBlocking } from '../api.js';
import { HealthCounts, Loading, Page, Refusal } from '../components.js';
import { ChecksTable, type CheckJson } from './services.js';

interface NodeJson {
  readonly Node: string;
  readonly Address: string;
  readonly Meta?: Record<string, string>;
}

export interface CoordinateJson {
  readonly Node: string;
  readonly Coord: {
    readonly Vec: number[];
    readonly Error: number;
    readonly Adjustment: number;
    readonly Height: number;
  };
}

export function NodesView() {
  const nodes = useBlocking<NodeJson[]>('/v1/catalog/nodes');
  const checks = useBlocking<CheckJson[]>('/v1/health/state/any');
  const [filter, setFilter] = useState('');
  if (nodes.error) return <Page title="Nodes">{<Refusal error={nodes.error} what="nodes" />}</Page>;
  if (nodes.data === undefined) return <Page title="Nodes">{<Loading />}</Page>;
  const byNode = new Map<string, string[]>();
  for (const c of checks.data ?? []) byNode.set(c.Node, [...(byNode.get(c.Node) ?? []), c.Status]);
  const list = (nodes.data ?? []).filter((n) => n.Node.toLowerCase().includes(filter.toLowerCase()));
  return (
    <Page title="Nodes">
      <label className="filter">
        Filter nodes <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
      </label>
      <table>
        <caption>
          {list.length} node{list.length === 1 ? '' : 's'}; health counts all checks on the node
        </caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Address</th>
            <th scope="col">Health</th>
          </tr>
        </thead>
        <tbody>
          {list.map((n) => (
            <tr key={n.Node} data-node={n.Node}>
              <th scope="row">
                <a href={`#/nodes/${encodeURIComponent(n.Node)}`}>{n.Node}</a>
              </th>
              <td>
                <code>{n.Address}</code>
              </td>
              <td>
                <HealthCounts statuses={byNode.get(n.Node) ?? []} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

interface NodeServicesJson {
  readonly Node: NodeJson;
  readonly Services: Record<
    string,
    { ID: string; Service: string; Tags: string[] | null; Port: number; Address: string }
  >;
}

export function NodeView({ name }: { name: string }) {
  const enc = encodeURIComponent(name);
  const node = useBlocking<NodeServicesJson>(`/v1/catalog/node/${enc}`);
  const checks = useBlocking<CheckJson[]>(`/v1/health/node/${enc}`);
  const coord = useBlocking<CoordinateJson[]>(`/v1/coordinate/node/${enc}`);
  const title = (
    <>
      Node <code>{name}</code>
    </>
  );
  if (node.error) return <Page title={title}>{<Refusal error={node.error} what={`node ${name}`} />}</Page>;
  if (node.data === undefined) return <Page title={title}>{<Loading />}</Page>;
  if (node.data === null)
    return (
      <Page title={title}>
        <p>No node named {name} is registered.</p>
      </Page>
    );
  const services = Object.values(node.data.Services ?? {});
  const c = coord.data?.[0]?.Coord;
  return (
    <Page title={title}>
      <p>
        <a href="#/nodes">← All nodes</a>
      </p>
      <dl className="facts">
        <dt>Address</dt>
        <dd>
          <code>{node.data.Node.Address}</code>
        </dd>
        {Object.entries(node.data.Node.Meta ?? {}).map(([k, v]) => (
          <div key={k}>
            <dt>meta {k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
        <dt>Network coordinate</dt>
        <dd>
          {c ? (
            <span>
              vector [{c.Vec.map((x) => x.toFixed(4)).join(', ')}], height {(c.Height * 1000).toFixed(3)} ms, error{' '}
              {c.Error.toFixed(3)}, adjustment {(c.Adjustment * 1000).toFixed(3)} ms
            </span>
          ) : (
            <span className="muted">none yet</span>
          )}
        </dd>
      </dl>
      <h2>Checks</h2>
      {checks.error ? (
        <Refusal error={checks.error} what="this node's checks" />
      ) : (
        <ChecksTable checks={checks.data ?? []} caption={`Checks on ${name}`} />
      )}
      <h2>Services</h2>
      <table>
        <caption>Services registered on {name}</caption>
        <thead>
          <tr>
            <th scope="col">Service</th>
            <th scope="col">ID</th>
            <th scope="col">Port</th>
            <th scope="col">Tags</th>
          </tr>
        </thead>
        <tbody>
          {services.map((s) => (
            <tr key={s.ID}>
              <th scope="row">
                <a href={`#/services/${encodeURIComponent(s.Service)}`}>{s.Service}</a>
              </th>
              <td>{s.ID}</td>
              <td>{s.Port || ''}</td>
              <td>
                {(s.Tags ?? []).map((t) => (
                  <span key={t} className="tag">
                    {t}
                  </span>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
