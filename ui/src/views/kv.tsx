/**
 * Key/value: a tree browser by `/`, and one key's view and editor. Every write is a check-and-set on
 * the ModifyIndex the user saw (`?cas=N`; a new key `?cas=0`), so two editors cannot overwrite each
 * other silently: the second save is refused and says so. The key's current value stays live while
 * editing, and a change underneath is announced before the user saves.
 */
import { useEffect, useState } from 'react';
import { api, keyPath, useBlocking } from '../api.js';
import { Loading, Page, Refusal } from '../components.js';

interface KvEntry {
  readonly Key: string;
  readonly Value: string | null;
  readonly Flags: number;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
  readonly LockIndex: number;
  readonly Session?: string;
}

function decodeBase64(b64: string | null): Uint8Array {
  if (!b64) return new Uint8Array(0);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The value as UTF-8 text, or null when it is not valid UTF-8 (binary). */
function asText(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

function Breadcrumbs({ path }: { path: string }) {
  const parts = path.split('/').filter((p, i, all) => p !== '' || i < all.length - 1);
  let acc = '';
  return (
    <nav aria-label="Key path" className="crumbs">
      <a href="#/kv/">(root)</a>
      {parts.map((p, i) => {
        const last = i === parts.length - 1;
        acc += last && !path.endsWith('/') ? p : `${p}/`;
        return (
          <span key={i}>
            {' / '}
            {last ? <span aria-current="page">{p}</span> : <a href={`#/kv/${keyPath(acc)}`}>{p}</a>}
          </span>
        );
      })}
    </nav>
  );
}

export function KvView({ path }: { path: string }) {
  return path === '' || path.endsWith('/') ? <KvFolder prefix={path} /> : <KvKey keyName={path} />;
}

function KvFolder({ prefix }: { prefix: string }) {
  const keys = useBlocking<string[]>(`/v1/kv/${keyPath(prefix)}?keys&separator=/`);
  return (
    <Page title="Key/value">
      <Breadcrumbs path={prefix} />
      {keys.error ? <Refusal error={keys.error} what="these keys" /> : null}
      {keys.data === undefined && !keys.error ? <Loading /> : null}
      {keys.data !== undefined ? (
        <ul className="kv-list" aria-label={`Keys under ${prefix || 'the root'}`}>
          {(keys.data ?? [])
            .filter((k) => k !== prefix)
            .map((k) => (
              <li key={k}>
                <a href={`#/kv/${keyPath(k)}`} className={k.endsWith('/') ? 'folder' : 'key'}>
                  <span aria-hidden="true">{k.endsWith('/') ? '📁 ' : '🔑 '}</span>
                  {k.slice(prefix.length)}
                </a>
              </li>
            ))}
          {(keys.data ?? []).length === 0 ? <li className="muted">No keys here.</li> : null}
        </ul>
      ) : null}
      <CreateKey prefix={prefix} />
    </Page>
  );
}

function CreateKey({ prefix }: { prefix: string }) {
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [flags, setFlags] = useState('0');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    const key = prefix + name;
    if (name === '') return setMessage({ ok: false, text: 'Give the key a name (end it with / to make a folder).' });
    if (!/^\d+$/.test(flags)) return setMessage({ ok: false, text: 'Flags must be a whole number.' });
    const answer = await api('PUT', `/v1/kv/${keyPath(key)}?cas=0&flags=${flags}`, name.endsWith('/') ? '' : value);
    if (answer.status !== 200) return setMessage({ ok: false, text: `Not created: ${answer.status} ${answer.text}` });
    if (answer.text.trim() !== 'true')
      return setMessage({ ok: false, text: `Not created: ${key} already exists (check-and-set on index 0 refused).` });
    setMessage({ ok: true, text: `Created ${key}.` });
    setName('');
    setValue('');
    location.hash = `#/kv/${keyPath(key)}`;
  };
  return (
    <form className="card" onSubmit={create} aria-labelledby="create-title">
      <h2 id="create-title">Create a key under {prefix || 'the root'}</h2>
      <label>
        Key name <input value={name} onChange={(e) => setName(e.target.value)} placeholder="name or folder/" />
      </label>
      <label>
        Value <textarea value={value} rows={4} onChange={(e) => setValue(e.target.value)} />
      </label>
      <label>
        Flags <input value={flags} inputMode="numeric" onChange={(e) => setFlags(e.target.value)} />
      </label>
      <button type="submit">Create</button>
      {message ? (
        <p role={message.ok ? 'status' : 'alert'} className={message.ok ? 'ok' : 'error'}>
          {message.text}
        </p>
      ) : null}
    </form>
  );
}

type Mode = 'raw' | 'json' | 'base64';

function KvKey({ keyName }: { keyName: string }) {
  const live = useBlocking<KvEntry[]>(`/v1/kv/${keyPath(keyName)}`);
  const entry = live.data?.[0];
  const [mode, setMode] = useState<Mode>('raw');
  /** The editor: text and flags typed, and the ModifyIndex they were loaded from (the CAS index). */
  const [draft, setDraft] = useState<{ text: string; flags: string; baseIndex: number } | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  useEffect(() => {
    setDraft(null);
    setMessage(null);
    setConfirmDelete(false);
  }, [keyName]);
  const parent = keyName.includes('/') ? keyName.slice(0, keyName.lastIndexOf('/') + 1) : '';
  const title = (
    <>
      Key <code>{keyName}</code>
    </>
  );
  if (live.error) return <Page title={title}>{<Refusal error={live.error} what={`key ${keyName}`} />}</Page>;
  if (live.data === undefined) return <Page title={title}>{<Loading />}</Page>;
  if (!entry)
    return (
      <Page title={title}>
        <Breadcrumbs path={keyName} />
        <p role="status">This key does not exist (or was deleted).</p>
        {message ? <p className={message.ok ? 'ok' : 'error'}>{message.text}</p> : null}
        <p>
          <a href={`#/kv/${keyPath(parent)}`}>Back to {parent || 'the root'}</a>
        </p>
      </Page>
    );
  const bytes = decodeBase64(entry.Value);
  const text = asText(bytes);
  const startEdit = () => {
    setMessage(null);
    setDraft({ text: text ?? '', flags: String(entry.Flags), baseIndex: entry.ModifyIndex });
  };
  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!draft) return;
    if (!/^\d+$/.test(draft.flags)) return setMessage({ ok: false, text: 'Flags must be a whole number.' });
    const answer = await api(
      'PUT',
      `/v1/kv/${keyPath(keyName)}?cas=${draft.baseIndex}&flags=${draft.flags}`,
      draft.text,
    );
    if (answer.status !== 200) return setMessage({ ok: false, text: `Not saved: ${answer.status} ${answer.text}` });
    if (answer.text.trim() !== 'true')
      return setMessage({
        ok: false,
        text: `Not saved: conflict. Someone changed ${keyName} after you loaded it (you edited the version at index ${draft.baseIndex}${entry.ModifyIndex !== draft.baseIndex ? `; it is now at ${entry.ModifyIndex}` : ''}). Your text is kept: compare it with the current value, then save again to overwrite.`,
      });
    setDraft(null);
    setMessage({ ok: true, text: `Saved ${keyName}.` });
  };
  const remove = async () => {
    const answer = await api('DELETE', `/v1/kv/${keyPath(keyName)}?cas=${entry.ModifyIndex}`);
    setConfirmDelete(false);
    if (answer.status !== 200) return setMessage({ ok: false, text: `Not deleted: ${answer.status} ${answer.text}` });
    if (answer.text.trim() !== 'true')
      return setMessage({ ok: false, text: `Not deleted: ${keyName} changed since you loaded it; look again.` });
    location.hash = `#/kv/${keyPath(parent)}`;
  };
  const changedUnderneath = draft !== null && draft.baseIndex !== entry.ModifyIndex;
  return (
    <Page title={title}>
      <Breadcrumbs path={keyName} />
      <dl className="facts">
        <dt>Flags</dt>
        <dd data-testid="flags">{entry.Flags}</dd>
        <dt>Modify index</dt>
        <dd data-testid="modify-index">{entry.ModifyIndex}</dd>
        <dt>Create index</dt>
        <dd>{entry.CreateIndex}</dd>
        <dt>Lock</dt>
        <dd>{entry.Session ? `held by session ${entry.Session} (lock index ${entry.LockIndex})` : 'not held'}</dd>
        <dt>Size</dt>
        <dd>{bytes.length} bytes</dd>
      </dl>
      <fieldset className="modes">
        <legend>Show the value as</legend>
        {(['raw', 'json', 'base64'] as const).map((m) => (
          <label key={m}>
            <input type="radio" name="mode" value={m} checked={mode === m} onChange={() => setMode(m)} />{' '}
            {m === 'raw' ? 'raw text' : m === 'json' ? 'JSON' : 'base64'}
          </label>
        ))}
      </fieldset>
      <pre className="value" data-testid="value" aria-label="Current value">
        {renderValue(mode, text, entry.Value ?? '', bytes.length)}
      </pre>
      {draft === null ? (
        <p className="actions">
          <button type="button" onClick={startEdit} disabled={text === null}>
            Edit
          </button>{' '}
          {confirmDelete ? (
            <>
              <button type="button" className="danger" onClick={remove}>
                Confirm delete
              </button>{' '}
              <button type="button" onClick={() => setConfirmDelete(false)}>
                Keep it
              </button>
            </>
          ) : (
            <button type="button" onClick={() => setConfirmDelete(true)}>
              Delete
            </button>
          )}
          {text === null ? <span className="muted"> (binary value: edit it through the API)</span> : null}
        </p>
      ) : (
        <form onSubmit={save} className="card" aria-labelledby="edit-title">
          <h2 id="edit-title">Edit {keyName}</h2>
          {changedUnderneath ? (
            <p className="warning" role="status">
              This key changed since you started editing (index {draft.baseIndex} → {entry.ModifyIndex}). Saving will be
              refused; the current value is shown above.
            </p>
          ) : null}
          <label>
            Value{' '}
            <textarea rows={8} value={draft.text} onChange={(e) => setDraft({ ...draft, text: e.target.value })} />
          </label>
          <label>
            Flags{' '}
            <input
              value={draft.flags}
              inputMode="numeric"
              onChange={(e) => setDraft({ ...draft, flags: e.target.value })}
            />
          </label>
          <button type="submit">Save</button>{' '}
          {changedUnderneath ? (
            <button type="button" onClick={() => setDraft({ ...draft, baseIndex: entry.ModifyIndex })}>
              Overwrite the new version
            </button>
          ) : null}{' '}
          <button type="button" onClick={() => setDraft(null)}>
            Cancel
          </button>
        </form>
      )}
      {message ? (
        <p role={message.ok ? 'status' : 'alert'} className={message.ok ? 'ok' : 'error'}>
          {message.text}
        </p>
      ) : null}
    </Page>
  );
}

function renderValue(mode: Mode, text: string | null, base64: string, size: number): string {
  if (mode === 'base64') return base64;
  if (text === null) return `(binary, ${size} bytes: choose base64)`;
  if (mode === 'raw') return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch (error) {
    return `(not JSON: ${(error as Error).message})`;
  }
}
