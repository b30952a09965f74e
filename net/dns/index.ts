/** Consul's DNS interface over UDP and TCP (server.ts). */
export {
  startDnsServer,
  answerDns,
  dnsContext,
  parseQueryName,
  type DnsContext,
  type DnsServer,
  type DnsServerOptions,
} from './server.js';
