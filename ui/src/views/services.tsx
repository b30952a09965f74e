/** Services: every service with its tags and the health of its checks; one service's instances. */
import { useState } from 'react';
import { useBlocking } from '../api.js';
import { Health, HealthCounts, Loading, Page, Refusal, worst } from '../components.js';

export interface CheckJson {
  readonly Node: string;
  readonly CheckID: string;
  readonly Name: string;
  readonly Status: string;
  readonly Output?: string;
  readonly ServiceID?: string;
  readonly ServiceName?: string;
}

export function ServicesView() {
  const services = useBlocking<Record<string, string[]>>('/v1/catalog/services');
  const checks = useBlocking<CheckJson[]>('/v1/health/state/any');
  const [filter, setFilter] = useState('');
  if (services.error) return <Page title="Services">{<Refusal error={services.error} what="services" />}</Page>;
  if (services.data === undefined) return <Page title="Services">{<Loading />}</Page>;
  const byService = new Map<string, string[]>();
  for (const c of checks.data ?? [])
    if (c.ServiceName) byService.set(c.ServiceName, [...(byService.get(c.ServiceName) ?? []), c.Status]);
  const names = Object.keys(services.data ?? {})
    .filter((n) => n.toLowerCase().includes(filter.toLowerCase()))
    .sort();
  return (
    <Page title="Services">
      <label className="filter">
        Filter services <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
      </label>
      <table>
        <caption>
          {names.length} service{names.length === 1 ? '' : 's'}; health counts the services' own checks
        </caption>
        <thead>
          <tr>
            <th scope="col">Service</th>
            <th scope="col">Health</th>
            <th scope="col">Tags</th>
          </tr>
        </thead>
        <tbody>
          {names.map((name) => (
            <tr key={name} data-service={name}>
              <th scope="row">
                <a href={`#/services/${encodeURIComponent(name)}`}>{name}</a>
              </th>
              <td>
                <HealthCounts statuses={byService.get(name) ?? []} />
              </td>
              <td>
                {(services.data?.[name] ?? []).map((t) => (
                  <span key={t} className="tag">
                    {t}
                  </span>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {checks.error ? <Refusal error={checks.error} what="health checks" /> : null}
    </Page>
  );
}

interface ServiceEntry {
  readonly Node: { readonly Node: string; readonly Address: string };
  readonly Service: {
    readonly ID: string;
    readonly Service: string;
    readonly Tags: string[] | null;
    readonly Address: string;
    readonly Port: number;
  };
  readonly Checks: CheckJson[];
}

export function ServiceView({ name }: { name: string }) {
  const entries = useBlocking<ServiceEntry[]>(`/v1/health/service/${encodeURIComponent(name)}`);
  const title = (
    <>
      Service <code>{name}</code>
    </>
  );
  if (entries.error) return <Page title={title}>{<Refusal error={entries.error} what={`service ${name}`} />}</Page>;
  if (entries.data === undefined) return <Page title={title}>{<Loading />}</Page>;
  const list = entries.data ?? [];
  return (
    <Page title={title}>
      <p>
        <a href="#/services">← All services</a>
      </p>
      {list.length === 0 ? <p>No instances of this service are registered.</p> : null}
      {list.map((e) => (
        <article key={`${e.Node.Node}/${e.Service.ID}`} className="card" data-instance={e.Service.ID}>
          <h2>
            {e.Service.ID} on <a href={`#/nodes/${encodeURIComponent(e.Node.Node)}`}>{e.Node.Node}</a>{' '}
            <Health status={worst(e.Checks.map((c) => c.Status))} />
          </h2>
          <p>
            Address <code>{`${e.Service.Address || e.Node.Address}:${e.Service.Port}`}</code>
            {(e.Service.Tags ?? []).length > 0 ? ' · tags ' : ''}
            {(e.Service.Tags ?? []).map((t) => (
              <span key={t} className="tag">
                {t}
              </span>
            ))}
          </p>
          <ChecksTable checks={e.Checks} caption={`Checks of ${e.Service.ID} on ${e.Node.Node}`} />
        </article>
      ))}
    </Page>
  );
}

export function ChecksTable({ checks, caption }: { checks: readonly CheckJson[]; caption: string }) {
  if (checks.length === 0) return <p className="muted">No checks.</p>;
  return (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Check</th>
          <th scope="col">Status</th>
          <th scope="col">Service</th>
          <th scope="col">Output</th>
        </tr>
      </thead>
      <tbody>
        {checks.map((c) => (
          <tr key={c.CheckID} data-check={c.CheckID}>
            <th scope="row">{c.Name || c.CheckID}</th>
            <td>
              <Health status={c.Status} />
            </td>
            <td>{c.ServiceName || <span className="muted">node</span>}</td>
            <td>
              <pre className="output">{c.Output ?? ''}</pre>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
