/**
 * ACL rules of prepared queries: query write on a query's name to create, update or delete it (the
 * name of an existing query is looked up; an unnamed query falls under the rule for ""), query read on
 * its name to see it (its `Token` is redacted for all but management tokens, as Consul does); executing
 * answers only the nodes whose service the caller may read, on nodes it may read.
 */
import type { AgentRequest, AgentResponse } from '../api.js';
import { allow, allowIf, keepEntries, record, str, type Authorizer, type Decision } from './authz.js';

export type QueryRequest = Extract<AgentRequest, { type: `query.${string}` }>;

export function authorizeQuery(request: QueryRequest, authz: Authorizer): Decision {
  switch (request.type) {
    case 'query.create':
      return allowIf(authz.may('query', str(request.definition['Name']), 'write'));
    case 'query.update':
    case 'query.delete':
      return {
        kind: 'lookup',
        request: { type: 'query.get', id: request.id, read: { consistency: 'default' } },
        then: (response: AgentResponse) => {
          const found = Array.isArray(response.body) ? record(response.body[0]) : undefined;
          const current = found ? authz.may('query', str(found.Name), 'write') : true;
          const next =
            request.type === 'query.update' ? authz.may('query', str(request.definition['Name']), 'write') : true;
          return allowIf(current && next);
        },
      };
    case 'query.list':
    case 'query.get':
    case 'query.explain':
    case 'query.execute':
      return allow; // filtered
  }
}

function redacted(query: Record<string, unknown>, authz: Authorizer): Record<string, unknown> {
  return authz.management || !query.Token ? query : { ...query, Token: '<hidden>' };
}

export function filterQuery(request: QueryRequest, body: unknown, authz: Authorizer): unknown {
  const readable = (q: Record<string, unknown>) => authz.may('query', str(q.Name), 'read');
  switch (request.type) {
    case 'query.list':
    case 'query.get': {
      const kept = keepEntries(body, readable);
      return Array.isArray(kept) ? kept.map((q) => redacted(record(q), authz)) : kept;
    }
    case 'query.explain': {
      const query = record(record(body).Query);
      if (body === null || typeof body !== 'object') return body;
      return readable(query) ? { ...record(body), Query: redacted(query, authz) } : null;
    }
    case 'query.execute': {
      const b = record(body);
      if (!Array.isArray(b.Nodes)) return body;
      return {
        ...b,
        Nodes: keepEntries(
          b.Nodes,
          (e) =>
            authz.may('node', str(record(e.Node).Node), 'read') &&
            authz.may('service', str(record(e.Service).Service), 'read'),
        ),
      };
    }
    default:
      return body;
  }
}
