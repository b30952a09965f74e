/** Sessions and the locks they hold: each session, and which keys it holds (a lock's holder). */
import { api, keyPath, useBlocking } from '../api.js';
import { Loading, Page, Refusal } from '../components.js';

interface SessionJson {
  readonly ID: string;
  readonly Name: string;
  readonly Node: string;
  readonly Behavior: string;
  readonly TTL: string;
  readonly LockDelay: number;
  readonly Checks?: string[] | null;
  readonly NodeChecks?: string[] | null;
  readonly ServiceChecks?: { ID: string }[] | null;
  readonly CreateIndex: number;
}

interface KvEntry {
  readonly Key: string;
  readonly Session?: string;
  readonly LockIndex: number;
}

export function SessionsView() {
  const sessions = useBlocking<SessionJson[]>('/v1/session/list');
  const kv = useBlocking<KvEntry[]>('/v1/kv/?recurse');
  if (sessions.error)
    return <Page title="Sessions and locks">{<Refusal error={sessions.error} what="sessions" />}</Page>;
  if (sessions.data === undefined) return <Page title="Sessions and locks">{<Loading />}</Page>;
  const held = new Map<string, KvEntry[]>();
  for (const e of kv.data ?? []) if (e.Session) held.set(e.Session, [...(held.get(e.Session) ?? []), e]);
  const list = sessions.data ?? [];
  const locks = (kv.data ?? []).filter((e) => e.Session);
  return (
    <Page title="Sessions and locks">
      <table>
        <caption>
          {list.length} session{list.length === 1 ? '' : 's'}
        </caption>
        <thead>
          <tr>
            <th scope="col">Session</th>
            <th scope="col">Name</th>
            <th scope="col">Node</th>
            <th scope="col">Behavior</th>
            <th scope="col">TTL</th>
            <th scope="col">Locks held</th>
            <th scope="col">Action</th>
          </tr>
        </thead>
        <tbody>
          {list.map((s) => (
            <tr key={s.ID} data-session={s.ID}>
              <th scope="row">
                <code>{s.ID}</code>
              </th>
              <td>{s.Name}</td>
              <td>
                <a href={`#/nodes/${encodeURIComponent(s.Node)}`}>{s.Node}</a>
              </td>
              <td>{s.Behavior}</td>
              <td>{s.TTL || '–'}</td>
              <td>
                {(held.get(s.ID) ?? []).map((e) => (
                  <a key={e.Key} className="tag" href={`#/kv/${keyPath(e.Key)}`}>
                    {e.Key}
                  </a>
                ))}
              </td>
              <td>
                <button
                  type="button"
                  aria-label={`Invalidate session ${s.ID}`}
                  onClick={() => void api('PUT', `/v1/session/destroy/${encodeURIComponent(s.ID)}`)}
                >
                  Invalidate
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Locks</h2>
      {kv.error ? <Refusal error={kv.error} what="the keys (to find locks)" /> : null}
      {locks.length === 0 ? (
        <p className="muted">No key is locked.</p>
      ) : (
        <table>
          <caption>Keys held by a session</caption>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Holder (session)</th>
              <th scope="col">Holder's name and node</th>
              <th scope="col">Lock index</th>
            </tr>
          </thead>
          <tbody>
            {locks.map((e) => {
              const s = list.find((x) => x.ID === e.Session);
              return (
                <tr key={e.Key}>
                  <th scope="row">
                    <a href={`#/kv/${keyPath(e.Key)}`}>{e.Key}</a>
                  </th>
                  <td>
                    <code>{e.Session}</code>
                  </td>
                  <td>{s ? `${s.Name || '(unnamed)'} on ${s.Node}` : '–'}</td>
                  <td>{e.LockIndex}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </Page>
  );
}
