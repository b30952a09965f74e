/**
 * Certificate issuing for `conclave tls ca create` and `conclave tls cert create` (Consul 1.x's
 * commands and file names), with @peculiar/x509 (Node's crypto verifies certificates but cannot issue
 * them). Keys are ECDSA P-256 and signatures ECDSA-SHA256, as Consul's. A CA certificate is valid for
 * 5 years, a leaf for 1 year (Consul's defaults); serial numbers are 128 random bits.
 *
 * Leaf names (Consul's): a server certificate carries `server.<dc>.<domain>` (what
 * `verify_server_hostname` checks), a client certificate `client.<dc>.<domain>`; both carry
 * `localhost` and 127.0.0.1, and are good for TLS server and client authentication.
 */
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const dayMs = 86_400_000;
export const caValidDays = 1825;
export const leafValidDays = 365;

export interface Pem {
  readonly certPem: string;
  readonly keyPem: string;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f; // a positive INTEGER
  return bytes.toString('hex');
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** A self-signed CA ("Consul Agent CA <n>" in Consul; ours says Conclave). */
export async function createCa(options: { domain: string; days?: number; commonName?: string }): Promise<Pem> {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${options.commonName ?? `Conclave Agent CA ${randomBytes(4).readUInt32BE(0)}`}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.days ?? caValidDays) * dayMs),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: options.domain }]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

export interface LeafOptions {
  readonly ca: Pem;
  readonly kind: 'server' | 'client';
  readonly datacenter: string;
  readonly domain: string;
  readonly days?: number;
  readonly additionalDnsNames?: readonly string[];
  readonly additionalIps?: readonly string[];
}

/** A leaf certificate signed by the CA: `server.<dc>.<domain>` or `client.<dc>.<domain>`. */
export async function createLeaf(options: LeafOptions): Promise<Pem> {
  const caCert = new x509.X509Certificate(options.ca.certPem);
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    x509.PemConverter.decodeFirst(options.ca.keyPem),
    algorithm,
    false,
    ['sign'],
  );
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const name = `${options.kind}.${options.datacenter}.${options.domain}`;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${name}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.days ?? leafValidDays) * dayMs),
    publicKey: keys.publicKey,
    signingKey: caKey as CryptoKey,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyAgreement,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: name },
        { type: 'dns', value: 'localhost' },
        ...(options.additionalDnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
        { type: 'ip', value: '127.0.0.1' },
        ...(options.additionalIps ?? []).map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}
