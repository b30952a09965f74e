/**
 * Gossip encryption (memberlist's design, security.go and keyring.go): a keyring of AES keys (16, 24
 * or 32 bytes: AES-128/192/256), the first of which is the primary. Every frame on the gossip port —
 * UDP packets and the frames of push-pull streams alike — is sealed with AES-GCM under the primary key
 * and opened with whichever key of the ring works, so a new key can be installed everywhere, made
 * primary, and the old one removed, without a moment where two members cannot talk.
 *
 * A sealed frame: [u32 length][u8 sealedWireVersion][12-byte nonce][ciphertext][16-byte tag], with the
 * 5 header bytes as additional data, so the length and version cannot be changed either. The
 * plaintext is the payload of a plain frame (msgpack of [from, body]). A frame that no key opens is
 * dropped and counted, never decoded. GCM's nonce is random per frame (96 bits: memberlist does the
 * same); the key must be rotated long before 2^32 frames under one key.
 *
 * `encrypt_verify_incoming` = false accepts plain frames too, `encrypt_verify_outgoing` = false sends
 * plain frames (Consul's rolling upgrade of a cluster to encryption: turn both off, give every agent
 * the key, then turn them on again).
 *
 * The ring persists as `serf/local.keyring` in the data dir: a JSON list of base64 keys, primary
 * first (Consul's file), so a restart needs no flag.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const nonceBytes = 12;
export const tagBytes = 16;
export const keyBytesAllowed: readonly number[] = [16, 24, 32];
/** Most keys one ring holds (an install beyond it is refused: rotation needs two or three). */
export const keyringKeysMax = 32;

/** The wire version byte of a sealed frame (a plain frame has `wireVersion` = 1; see frame.ts). */
export const sealedWireVersion = 0x81;

export class KeyringError extends Error {}

/** A base64 key → its bytes, or a KeyringError naming what is wrong. */
export function decodeKey(text: string): Buffer {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0)
    throw new KeyringError('key must be base64-encoded');
  const bytes = Buffer.from(trimmed, 'base64');
  if (!keyBytesAllowed.includes(bytes.length))
    throw new KeyringError(`key size must be 16, 24 or 32 bytes (got ${bytes.length})`);
  return bytes;
}

/** A fresh random 32-byte key, base64 (`conclave keygen`). */
export function generateKey(): string {
  return randomBytes(32).toString('base64');
}

function algorithmFor(key: Buffer): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  return key.length === 16 ? 'aes-128-gcm' : key.length === 24 ? 'aes-192-gcm' : 'aes-256-gcm';
}

export interface KeyringOptions {
  /** Plain frames are dropped (true) or accepted too (false). */
  readonly verifyIncoming: boolean;
  /** Frames are sealed (true) or sent plain (false). */
  readonly verifyOutgoing: boolean;
  /** Where the ring persists; null keeps it in memory (-dev). */
  readonly file: string | null;
}

export class Keyring {
  /** Primary first. Invariant: never empty, no duplicates, every key 16/24/32 bytes. */
  private keys: Buffer[];
  readonly stats = { sealed: 0, opened: 0, openFailures: 0, plainRefused: 0 };

  constructor(
    keys: readonly Buffer[],
    readonly options: KeyringOptions,
  ) {
    if (keys.length === 0) throw new KeyringError('a keyring needs at least one key');
    for (const key of keys)
      if (!keyBytesAllowed.includes(key.length)) throw new KeyringError(`key size ${key.length} is not 16, 24 or 32`);
    this.keys = dedupe(keys);
  }

  /** The ring at `file` if it exists, else one made of `initialKey` (and written there). */
  static open(initialKey: string | null, options: KeyringOptions): { keyring: Keyring | null; fromFile: boolean } {
    if (options.file && fs.existsSync(options.file)) {
      const keys = readKeyringFile(options.file);
      return { keyring: new Keyring(keys, options), fromFile: true };
    }
    if (initialKey === null) return { keyring: null, fromFile: false };
    const keyring = new Keyring([decodeKey(initialKey)], options);
    keyring.persist();
    return { keyring, fromFile: false };
  }

  /** Base64 keys, primary first. */
  list(): string[] {
    return this.keys.map((k) => k.toString('base64'));
  }

  primary(): string {
    return this.keys[0]!.toString('base64');
  }

  /** Adds a key (not primary). Installing a key already present is fine (Serf's answer). */
  install(text: string): void {
    const key = decodeKey(text);
    if (this.keys.some((k) => k.equals(key))) return;
    if (this.keys.length >= keyringKeysMax) throw new KeyringError(`the keyring already holds ${keyringKeysMax} keys`);
    this.keys = [...this.keys, key];
    this.persist();
  }

  /** Makes an installed key the primary. */
  use(text: string): void {
    const key = decodeKey(text);
    const at = this.keys.findIndex((k) => k.equals(key));
    if (at < 0) throw new KeyringError('Requested key is not in the keyring');
    this.keys = [key, ...this.keys.filter((_, i) => i !== at)];
    this.persist();
  }

  /** Removes a key that is not the primary (Serf: "Removing the primary key is not allowed"). */
  remove(text: string): void {
    const key = decodeKey(text);
    if (this.keys[0]!.equals(key)) throw new KeyringError('Removing the primary key is not allowed');
    const at = this.keys.findIndex((k) => k.equals(key));
    if (at < 0) return; // Serf: removing a key that is not there succeeds
    this.keys = this.keys.filter((_, i) => i !== at);
    this.persist();
  }

  /** Seals a frame's payload under the primary key: [nonce][ciphertext][tag]; `header` is authenticated too. */
  seal(header: Buffer, plaintext: Buffer): Buffer {
    const key = this.keys[0]!;
    const nonce = randomBytes(nonceBytes);
    const cipher = createCipheriv(algorithmFor(key), key, nonce, { authTagLength: tagBytes });
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    this.stats.sealed++;
    return Buffer.concat([nonce, body, cipher.getAuthTag()]);
  }

  /** Opens a sealed payload with any key of the ring; null when none authenticates it. */
  open(header: Uint8Array, sealed: Uint8Array): Buffer | null {
    if (sealed.length < nonceBytes + tagBytes) {
      this.stats.openFailures++;
      return null;
    }
    const nonce = sealed.subarray(0, nonceBytes);
    const tag = sealed.subarray(sealed.length - tagBytes);
    const body = sealed.subarray(nonceBytes, sealed.length - tagBytes);
    for (const key of this.keys) {
      try {
        const decipher = createDecipheriv(algorithmFor(key), key, nonce, { authTagLength: tagBytes });
        decipher.setAAD(header);
        decipher.setAuthTag(tag);
        const plain = Buffer.concat([decipher.update(body), decipher.final()]);
        this.stats.opened++;
        return plain;
      } catch {
        // wrong key or forged: try the next
      }
    }
    this.stats.openFailures++;
    return null;
  }

  private persist(): void {
    if (this.options.file) writeKeyringFile(this.options.file, this.keys);
  }
}

function dedupe(keys: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const key of keys) if (!out.some((k) => k.equals(key))) out.push(key);
  return out;
}

/** Reads `serf/local.keyring`: a JSON list of base64 keys, primary first. */
export function readKeyringFile(file: string): Buffer[] {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new KeyringError(`${file}: ${(error as Error).message}`);
  }
  if (!Array.isArray(raw) || raw.length === 0 || raw.some((k) => typeof k !== 'string'))
    throw new KeyringError(`${file}: must be a non-empty JSON list of base64 keys`);
  try {
    return (raw as string[]).map(decodeKey);
  } catch (error) {
    throw new KeyringError(`${file}: ${(error as Error).message}`);
  }
}

/** Writes the ring (temp file, fsync, rename: a crash leaves the old ring or the new one), mode 0600. */
export function writeKeyringFile(file: string, keys: readonly Buffer[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.tmp`;
  const fd = fs.openSync(temp, 'w', 0o600);
  try {
    fs.writeSync(
      fd,
      JSON.stringify(
        keys.map((k) => k.toString('base64')),
        null,
        2,
      ) + '\n',
    );
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
}

/** The keyring file inside a data dir (Consul's path). */
export function keyringFileIn(dataDir: string): string {
  return path.join(dataDir, 'serf', 'local.keyring');
}
