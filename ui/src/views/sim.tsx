/**
 * A simulated run (`conclave sim serve`): the TUI's controls in the browser — play/pause, speed, one
 * event, seek any moment, faults on a node, save a replay — over the same insides panel as the
 * agent's cluster view, and the HTML report's pictures (drawn by the report's own code on the server)
 * up to the moment on screen.
 */
import { useEffect, useState } from 'react';
import type { SimState } from '../../../cli/commands/sim/serve-api.js';
import { useBlocking } from '../api.js';
import { Loading, Page } from '../components.js';
import { InsidesPanel } from './cluster.js';

async function control(action: string, params: Record<string, string> = {}): Promise<string | null> {
  const query = new URLSearchParams(params).toString();
  const res = await fetch(`/sim/${action}${query ? `?${query}` : ''}`, {
    method: 'POST',
    headers: { 'X-Conclave-Sim': '1' },
  });
  return res.ok ? null : (await res.text()).trim();
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

export function SimView() {
  const live = useBlocking<SimState>('/sim/state', 250);
  const [node, setNode] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [seekMs, setSeekMs] = useState<number | null>(null);
  const s = live.data;
  useEffect(() => {
    if (s && node === '' && s.nodes.length > 0) setNode(s.nodes[0]!.name);
  }, [s, node]);
  if (!s) return <Page title="Simulated run">{<Loading />}</Page>;
  const act = (action: string, params?: Record<string, string>) => {
    setProblem(null);
    void control(action, params).then(setProblem);
  };
  // Pictures: redrawn for each moment while paused, once a second while playing.
  const pictureAt = s.paused ? s.nowMs : Math.floor(s.nowMs / 1000) * 1000;
  return (
    <Page
      title={
        <>
          Simulated run: <code>{s.scenario}</code> seed {s.seed}
        </>
      }
    >
      <div className="card sim-controls" role="group" aria-label="Run controls">
        <p className="sim-status" aria-live="polite">
          <strong data-testid="sim-time">{seconds(s.nowMs)}</strong> of {seconds(s.endMs)} · {s.phase} phase ·{' '}
          {s.events} events ·{' '}
          <span className={`verdict verdict-${s.verdict.status}`} data-testid="verdict">
            {s.verdict.status === 'fail' ? '✕ fail' : s.verdict.status === 'pass' ? '✓ pass' : 'running'}
          </span>
          {s.viewingPast ? ' · viewing the past' : ''}
          {s.catchingUp !== null ? ` · re-running from the seed ${Math.floor(s.catchingUp * 100)}%` : ''}
        </p>
        <p>
          <button type="button" onClick={() => act(s.paused ? 'play' : 'pause')} disabled={s.done && s.paused}>
            {s.paused ? 'Play' : 'Pause'}
          </button>{' '}
          <button type="button" onClick={() => act('step')}>
            Step one event
          </button>{' '}
          <button type="button" onClick={() => act('seek', { atMs: String(Math.max(0, s.nowMs - 1000)) })}>
            −1 s
          </button>{' '}
          <button type="button" onClick={() => act('seek', { atMs: String(s.nowMs + 1000) })}>
            +1 s
          </button>{' '}
          <label>
            Speed{' '}
            <select
              value={String(s.speed)}
              onChange={(e) => act('speed', { value: e.target.value === '-1' ? 'max' : e.target.value })}
            >
              {s.speeds.map((v) => (
                <option key={String(v)} value={String(v)}>
                  {v === -1 ? 'flat out' : `×${v}`}
                </option>
              ))}
            </select>
          </label>
        </p>
        <label className="seek">
          Seek (simulated time){' '}
          <input
            type="range"
            min={0}
            max={Math.round(s.endMs)}
            step={10}
            value={Math.round(seekMs ?? s.nowMs)}
            onChange={(e) => setSeekMs(Number(e.target.value))}
            onPointerUp={() => seekMs !== null && (act('seek', { atMs: String(seekMs) }), setSeekMs(null))}
            onKeyUp={() => seekMs !== null && (act('seek', { atMs: String(seekMs) }), setSeekMs(null))}
          />
        </label>
        <p>
          <label>
            Node{' '}
            <select value={node} onChange={(e) => setNode(e.target.value)}>
              {s.nodes.map((n) => (
                <option key={n.name} value={n.name}>
                  {n.name}
                  {!n.up ? ' (down)' : n.paused ? ' (paused)' : ''}
                </option>
              ))}
            </select>
          </label>{' '}
          <button type="button" onClick={() => act('fault', { kind: 'partition', node })}>
            Partition it
          </button>{' '}
          <button type="button" onClick={() => act('fault', { kind: 'crash', node })}>
            Crash it
          </button>{' '}
          <button type="button" onClick={() => act('fault', { kind: 'restart', node })}>
            Restart it
          </button>{' '}
          <button type="button" onClick={() => act('fault', { kind: 'heal' })}>
            Heal the network
          </button>{' '}
          <button type="button" onClick={() => act('save')}>
            Save a replay
          </button>
        </p>
        {s.message ? (
          <p role="status" data-testid="sim-message">
            {s.message}
          </p>
        ) : null}
        {problem ? (
          <p role="alert" className="error">
            {problem}
          </p>
        ) : null}
        {s.partition.groups.length > 0 ? (
          <p>Partitioned: {s.partition.groups.map((g) => g.join(' ')).join(' | ')}</p>
        ) : null}
        {s.verdict.violations.length > 0 ? (
          <ul className="error">
            {s.verdict.violations.map((v, i) => (
              <li key={i}>{v}</li>
            ))}
          </ul>
        ) : null}
      </div>
      <InsidesPanel insides={s.insides} coordinates={s.insides.coordinates ?? null} />
      <h2>Client operations and faults (the report's timeline, up to now)</h2>
      <div className="picture">
        <img
          src={`/sim/picture/timeline.svg?at=${pictureAt}`}
          alt="Client operations per process over time, with fault windows"
        />
      </div>
      <h2>Messages just before now (the report's Lamport diagram)</h2>
      <div className="picture">
        <img
          src={`/sim/picture/lamport.svg?at=${pictureAt}`}
          alt="Messages between nodes just before the moment on screen"
        />
      </div>
      <h2>Role and term of each node</h2>
      <div className="picture">
        <img src={`/sim/picture/roles.svg?at=${pictureAt}`} alt="Each node's role and term over time" />
      </div>
    </Page>
  );
}
