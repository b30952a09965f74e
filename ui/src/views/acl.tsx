/**
 * The ACL token the UI sends (X-Consul-Token). It is kept in this browser's localStorage and nowhere
 * else; the UI never holds a token the user did not type. With a management token, the tokens list.
 */
import { useState } from 'react';
import { setToken, useBlocking, useToken } from '../api.js';
import { Page } from '../components.js';

interface AclJson {
  readonly ID: string;
  readonly Name: string;
  readonly Type: string;
  readonly Rules: string;
}

export function AclView() {
  const token = useToken();
  const [typed, setTyped] = useState(token);
  const [show, setShow] = useState(false);
  const info = useBlocking<AclJson[]>(token ? `/v1/acl/info/${encodeURIComponent(token)}` : null);
  const self = info.data?.[0];
  const list = useBlocking<AclJson[]>(self?.Type === 'management' ? '/v1/acl/list' : null);
  const aclsOff = info.error?.status === 401;
  return (
    <Page title="ACL token">
      <form
        className="card"
        onSubmit={(e) => {
          e.preventDefault();
          setToken(typed);
        }}
      >
        <p>
          The token is kept in this browser only (localStorage) and sent with every request as{' '}
          <code>X-Consul-Token</code>. Views show only what it may read.
        </p>
        <label>
          Token{' '}
          <input
            type={show ? 'text' : 'password'}
            value={typed}
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => setTyped(e.target.value)}
          />
        </label>{' '}
        <label>
          <input type="checkbox" checked={show} onChange={(e) => setShow(e.target.checked)} /> show
        </label>{' '}
        <button type="submit">Use this token</button>{' '}
        <button
          type="button"
          onClick={() => {
            setTyped('');
            setToken('');
          }}
        >
          Forget the token
        </button>
      </form>
      <p role="status">
        {token === ''
          ? 'No token: requests use the agent’s default (anonymous) token.'
          : aclsOff
            ? 'ACLs are off on this agent: the token is sent and ignored.'
            : self
              ? `Using token “${self.Name || '(unnamed)'}”, type ${self.Type}.`
              : info.data === null || (info.data && info.data.length === 0)
                ? 'The agent does not know this token: requests are treated as anonymous.'
                : info.error
                  ? `Could not look the token up: ${info.error.status} ${info.error.message}`
                  : 'Looking the token up…'}
      </p>
      {self?.Type === 'management' && list.data ? (
        <table>
          <caption>Tokens (visible to a management token)</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Rules</th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((t) => (
              <tr key={t.ID}>
                <th scope="row">{t.Name || '(unnamed)'}</th>
                <td>{t.Type}</td>
                <td>
                  <pre className="output">{t.Rules}</pre>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Page>
  );
}
