/**
 * The cluster's insides, which Consul's UI does not show: each server's Raft role, term, commit and
 * applied index and last contact; the SWIM member table with incarnations; a 2-D map of the network
 * coordinates with round-trip estimates; recent leader changes and member events.
 *
 * `InsidesPanel` draws an `Insides` value (cli/agent/insides.ts) whatever its source: the agent's
 * /v1/agent/debug/insides here, a simulated run in `conclave sim serve`.
 */
import type { Insides } from '../../../cli/agent/insides.js';
import type { ReactNode } from 'react';
import { useBlocking } from '../api.js';
import { Loading, Page, Refusal, dash, formatMs } from '../components.js';
import type { CoordinateJson } from './nodes.js';

/** Consul's `/v1/operator/autopilot/health` (core/agent/autopilot.ts; the leader computes it). */
export interface AutopilotJson {
  readonly Healthy: boolean;
  readonly FailureTolerance: number;
  readonly Servers: readonly {
    readonly ID: string;
    readonly Name: string;
    readonly Address: string;
    readonly SerfStatus: string;
    readonly Leader: boolean;
    readonly LastContact: string;
    readonly LastTerm: number;
    readonly LastIndex: number;
    readonly Healthy: boolean;
    readonly Voter: boolean;
    readonly StableSince: string;
  }[];
}

export function ClusterView() {
  const insides = useBlocking<Insides>('/v1/agent/debug/insides', 1000);
  const coords = useBlocking<CoordinateJson[]>('/v1/coordinate/nodes');
  const autopilot = useBlocking<AutopilotJson>(insides.data?.server ? '/v1/operator/autopilot/health' : null, 1000);
  if (insides.error)
    return <Page title="Cluster insides">{<Refusal error={insides.error} what="operator data" />}</Page>;
  if (!insides.data) return <Page title="Cluster insides">{<Loading />}</Page>;
  const coordinates = (coords.data ?? []).map((c) => ({ node: c.Node, coord: c.Coord }));
  return (
    <Page title="Cluster insides">
      <InsidesPanel
        insides={insides.data}
        coordinates={coordinates}
        afterRaft={
          <>
            {autopilot.data ? <AutopilotPanel health={autopilot.data} /> : null}
            {autopilot.error ? <Refusal error={autopilot.error} what="autopilot health" /> : null}
          </>
        }
      />
      {coords.error ? <Refusal error={coords.error} what="network coordinates" /> : null}
    </Page>
  );
}

type Coord = {
  readonly Vec: readonly number[];
  readonly Error: number;
  readonly Adjustment: number;
  readonly Height: number;
};

export function InsidesPanel({
  insides,
  coordinates,
  afterRaft = null,
}: {
  insides: Insides;
  /** Shown below the Raft table (the agent's autopilot view). */
  afterRaft?: ReactNode;
  /** null: the source has none (a simulated run), and the map is left out. */
  coordinates: readonly { node: string; coord: Coord }[] | null;
}) {
  const when = (atMs: number) =>
    insides.clock === 'wall' ? new Date(atMs).toLocaleTimeString() : `${(atMs / 1000).toFixed(3)} s`;
  return (
    <>
      <p data-testid="leader-line">
        As seen by <strong>{insides.node}</strong>:{' '}
        {insides.server ? (
          insides.leader ? (
            <>
              leader <strong data-testid="leader">{insides.leader}</strong> at term <strong>{insides.term}</strong>
            </>
          ) : (
            <strong>no known leader</strong>
          )
        ) : (
          'a client agent (no Raft state of its own)'
        )}
      </p>
      <h2>Raft servers</h2>
      {insides.servers.length === 0 ? (
        <p className="muted">This agent is not a server; ask a server's UI for Raft state.</p>
      ) : (
        <table>
          <caption>
            {insides.clock === 'sim'
              ? 'Every node’s own Raft state (the simulator sees them all exactly)'
              : insides.datacenter
                ? `Datacenter ${insides.datacenter}: each server as its leader ${insides.node} sees it (autopilot, over the WAN)`
                : `Each server as ${insides.node} sees it: itself exactly, followers through the leader's replication state`}
          </caption>
          <thead>
            <tr>
              <th scope="col">Server</th>
              <th scope="col">Role</th>
              <th scope="col">Term</th>
              <th scope="col">Commit index</th>
              <th scope="col">Applied index</th>
              <th scope="col">Log / match index</th>
              <th scope="col">Last contact</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {insides.servers.map((s) => (
              <tr key={s.id} data-server={s.name}>
                <th scope="row">
                  {s.name}
                  {s.voter ? '' : ' (non-voter)'}
                </th>
                <td className={`role role-${s.role ?? 'unknown'}`}>
                  {s.role === 'leader' ? <span aria-hidden="true">★ </span> : null}
                  {dash(s.role)}
                </td>
                <td>{dash(s.term)}</td>
                <td>{dash(s.commitIndex)}</td>
                <td>{dash(s.appliedIndex)}</td>
                <td>{dash(s.logIndex)}</td>
                <td>{formatMs(s.lastContactMs)}</td>
                <td>
                  {s.source === 'self' ? 'itself' : s.source === 'leader' ? 'leader’s replication' : 'not known here'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {afterRaft}
      <h2>Gossip members (SWIM)</h2>
      <table>
        <caption>
          {insides.datacenter
            ? `The servers of ${insides.datacenter} in this agent's WAN member table`
            : `The member table of ${insides.node}`}
        </caption>
        <thead>
          <tr>
            <th scope="col">Member</th>
            <th scope="col">Address</th>
            <th scope="col">Status</th>
            <th scope="col">Incarnation</th>
            <th scope="col">Role tag</th>
          </tr>
        </thead>
        <tbody>
          {insides.members.map((m) => (
            <tr key={m.id} data-member={m.name}>
              <th scope="row">{m.name}</th>
              <td>
                <code>{m.id}</code>
              </td>
              <td className={`member member-${m.status}`}>
                <span aria-hidden="true">{memberIcon[m.status] ?? '?'} </span>
                {m.status}
              </td>
              <td>{dash(m.incarnation)}</td>
              <td>{m.tags['role'] ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {coordinates !== null ? (
        <>
          <h2>Network coordinates</h2>
          <CoordinateMap coordinates={coordinates} from={insides.node} />
        </>
      ) : null}
      <h2>Recent leader changes and member events</h2>
      {insides.events.length === 0 ? (
        <p className="muted">
          {insides.datacenter
            ? `This agent records the events of its own datacenter only; pick it to see them.`
            : 'None seen since this agent started.'}
        </p>
      ) : (
        <ol className="events" reversed aria-label="Events, newest first">
          {[...insides.events].reverse().map((e, i) => (
            <li key={i} className={`event event-${e.kind}`}>
              <time>{when(e.atMs)}</time> <span className="tag">{e.kind}</span> {e.text}
            </li>
          ))}
        </ol>
      )}
    </>
  );
}

/**
 * Every server as the leader sees it (autopilot health): what a follower's own insides cannot show of
 * the others — how far each one's log matches the leader's, its last term and when it last answered.
 */
function AutopilotPanel({ health }: { health: AutopilotJson }) {
  return (
    <section aria-labelledby="autopilot-heading">
      <h2 id="autopilot-heading">Server health (autopilot, the leader’s view)</h2>
      <p data-testid="autopilot-summary">
        {health.Healthy ? (
          <span className="health health-passing">✓ every server healthy</span>
        ) : (
          <span className="health health-critical">✕ not every server is healthy</span>
        )}
        {' — '}failure tolerance <strong>{health.FailureTolerance}</strong> (servers that may fail with a quorum left)
      </p>
      <table>
        <caption>Healthy: alive in gossip, answered the leader lately, on its term, at most 250 entries behind</caption>
        <thead>
          <tr>
            <th scope="col">Server</th>
            <th scope="col">Health</th>
            <th scope="col">Gossip</th>
            <th scope="col">Last index</th>
            <th scope="col">Last term</th>
            <th scope="col">Last contact</th>
            <th scope="col">Stable since</th>
          </tr>
        </thead>
        <tbody>
          {health.Servers.map((x) => (
            <tr key={x.ID} data-autopilot={x.Name}>
              <th scope="row">
                {x.Leader ? <span aria-hidden="true">★ </span> : null}
                {x.Name}
                {x.Voter ? '' : ' (non-voter)'}
              </th>
              <td className={`health health-${x.Healthy ? 'passing' : 'critical'}`}>
                <span aria-hidden="true">{x.Healthy ? '✓ ' : '✕ '}</span>
                {x.Healthy ? 'healthy' : 'unhealthy'}
              </td>
              <td>{x.SerfStatus}</td>
              <td>{x.LastIndex}</td>
              <td>{x.LastTerm}</td>
              <td>{x.LastContact}</td>
              <td>{new Date(x.StableSince).toLocaleTimeString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

const memberIcon: Record<string, string> = { alive: '●', suspect: '◐', failed: '✕', leaving: '→', left: '○' };

/** Estimated round trip in seconds (Serf's ComputeDistance, as core/swim/coordinate.ts has it). */
export function rttSeconds(a: Coord, b: Coord): number {
  let sum = 0;
  for (let i = 0; i < a.Vec.length; i++) sum += ((a.Vec[i] ?? 0) - (b.Vec[i] ?? 0)) ** 2;
  const raw = Math.sqrt(sum) + a.Height + b.Height;
  const adjusted = raw + a.Adjustment + b.Adjustment;
  return adjusted > 0 ? adjusted : raw;
}

/**
 * The two directions along which the coordinates spread most (principal components by power
 * iteration with deflation), so the picture keeps as much of the distances as two dimensions can.
 */
export function project2d(vectors: readonly (readonly number[])[]): [number, number][] {
  const n = vectors.length;
  const dims = Math.max(0, ...vectors.map((v) => v.length));
  if (n === 0 || dims === 0) return vectors.map(() => [0, 0]);
  const mean = Array.from({ length: dims }, (_, d) => vectors.reduce((s, v) => s + (v[d] ?? 0), 0) / n);
  const centred = vectors.map((v) => mean.map((m, d) => (v[d] ?? 0) - m));
  const cov = mean.map((_, i) => mean.map((__, j) => centred.reduce((s, v) => s + v[i]! * v[j]!, 0)));
  const axes: number[][] = [];
  for (let k = 0; k < 2; k++) {
    let x = mean.map((_, i) => 1 + i * 0.37 + k);
    for (let iter = 0; iter < 100; iter++) {
      let y = cov.map((row) => row.reduce((s, c, j) => s + c * x[j]!, 0));
      for (const a of axes) {
        const dot = y.reduce((s, v, i) => s + v * a[i]!, 0);
        y = y.map((v, i) => v - dot * a[i]!);
      }
      const norm = Math.hypot(...y);
      if (norm < 1e-15) break;
      x = y.map((v) => v / norm);
    }
    axes.push(x);
  }
  return centred.map((v) => [
    v.reduce((s, c, i) => s + c * axes[0]![i]!, 0),
    v.reduce((s, c, i) => s + c * axes[1]![i]!, 0),
  ]);
}

function gridLines(width: number, height: number, stepPx: number) {
  const lines = [];
  for (let x = stepPx; x < width; x += stepPx) lines.push(<line key={`x${x}`} x1={x} y1={0} x2={x} y2={height} />);
  for (let y = stepPx; y < height; y += stepPx) lines.push(<line key={`y${y}`} x1={0} y1={y} x2={width} y2={y} />);
  return <g className="map-grid">{lines}</g>;
}

function CoordinateMap({
  coordinates,
  from,
}: {
  coordinates: readonly { node: string; coord: Coord }[];
  from: string;
}) {
  if (coordinates.length === 0)
    return <p className="muted">No coordinates yet (they arrive after a few gossip rounds).</p>;
  const points = project2d(coordinates.map((c) => c.coord.Vec));
  const width = 420;
  const height = 300;
  const pad = 40;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const span = Math.max(1e-9, Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2;
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  const scale = (Math.min(width, height) - 2 * pad) / span;
  const origin = coordinates.find((c) => c.node === from);
  return (
    <div className="coords">
      <svg
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`Map of ${coordinates.length} network coordinates; the table beside it lists the round trips`}
      >
        <rect x="0" y="0" width={width} height={height} className="map-bg" />
        {gridLines(width, height, 50)}
        {coordinates.length > 1 ? (
          <text x="8" y={height - 8} className="map-note">
            grid square = {((50 / scale) * 1000).toFixed(3)} ms of round trip
          </text>
        ) : null}
        {coordinates.map((c, i) => {
          const x = width / 2 + (points[i]![0] - cx) * scale;
          const y = height / 2 + (points[i]![1] - cy) * scale;
          return (
            <g key={c.node} className={c.node === from ? 'map-node map-self' : 'map-node'}>
              <circle cx={x} cy={y} r={c.node === from ? 7 : 5} />
              <text x={x + 9} y={y + 4}>
                {c.node}
              </text>
            </g>
          );
        })}
      </svg>
      <table>
        <caption>Estimated round trip from {origin ? from : 'each node'} (Vivaldi)</caption>
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">RTT</th>
            <th scope="col">Height</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {coordinates.map((c) => (
            <tr key={c.node}>
              <th scope="row">{c.node}</th>
              <td>
                {!origin
                  ? '–'
                  : c.node === from
                    ? 'itself'
                    : `${(rttSeconds(origin.coord, c.coord) * 1000).toFixed(3)} ms`}
              </td>
              <td>{(c.coord.Height * 1000).toFixed(3)} ms</td>
              <td>{c.coord.Error.toFixed(3)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
