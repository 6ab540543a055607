/**
 * Reference values provided by the OAM (issue 10 item 4; RFC 9334: the OAM is the Reference Value Provider): the
 * provide-reference-values operation's core. A statement is accepted only when it verifies with the configured OAM
 * keys (src/tokens verifyReferenceValues: typ rv+jwt, alg allow-list, signature, iss, aud = this PVE, age, jti
 * once) and is about a known H(e)NB and newer than the last one accepted for it. The accepted values of an H(e)NB
 * replace its previous ones and count, for that H(e)NB only, in addition to the PVE's own reference values.
 * They are kept in DATA_DIR/reference-values (a snapshot provided.json and a journal of the statements since: see
 * provided-record.ts), so a PVE restart keeps them and still refuses an older statement.
 *
 * A repeat of the statement accepted last for its H(e)NB (same jti, verified again) is answered as accepted and
 * changes nothing: the OAM sends it again when its connection failed after sending, before the answer (issue 15,
 * src/pve/retry.ts), and must not read a lost answer as a refusal. Any other statement seen before is refused.
 *
 * Refusals are RESTCONF errors (the NETCONF endpoint maps them to rpc-errors) with these error-app-tags:
 *   reference-values-unsigned   not a JWS signed with an allowed algorithm (alg none, HMAC, malformed)
 *   reference-values-untrusted  signed, but not by a configured OAM key (or no OAM key is configured)
 *   reference-values-stale      too old, expired, or older than the statement accepted last for the H(e)NB
 *   reference-values-replayed   this very statement (jti) was accepted before and is no longer the H(e)NB's current one
 *   reference-values-invalid    not reference values for this PVE (typ, claims, issuer, audience)
 *   unknown-henb                about an H(e)NB this PVE does not know
 */
import { join } from 'node:path';
import { errorCode } from '../errors.js';
import { GroupedRun } from '../grouped-run.js';
import type { Logger } from '../log/logger.js';
import type { ReferenceValues } from '../integrity/index.js';
import { JwksFile, memoryReplayCache, verifyReferenceValues, verifyWithCurrentKeys } from '../tokens/index.js';
import type { CurrentOptions, Jwks, ReferenceValuesClaims, ReplayCache } from '../tokens/index.js';
import { RestconfError } from './restconf.js';
import { ProvidedRecord } from './provided-record.js';
import type { ProvidedEntry } from './provided-record.js';
import type { KeyedJournal } from './keyed-journal.js';

export { ProvidedFileError } from './provided-record.js';
export type { ProvidedEntry } from './provided-record.js';

export const PROVIDE_INPUT_PATH = '/henb-sw-verify-pve:provide-reference-values/input/reference-values';


export interface ProvidedReferenceValuesOptions {
  dataDir: string;
  /** the OAM's verification keys: a JWKS, or a JWKS file (checked per statement, read again when it changed) */
  oamJwks?: Jwks | string;
  /** iss the statements must carry (default urn:henb-sw-verify:oam) */
  oamIssuer?: string | string[];
  /** this PVE's name: the statements' aud must contain it */
  audience: string;
  /** max age of a statement, s (default 300) */
  maxAgeSec?: number;
  knownHenb(henbId: string): boolean;
  log: Logger;
  /** clock, seconds (tests) */
  now?: () => number;
}

export interface ProvidedReferenceValues {
  /** verify and accept one statement; rejects with a RestconfError (see the module comment) */
  accept(jws: string): Promise<ReferenceValuesClaims>;
  /** the values accepted for an H(e)NB (component -> digests), none when nothing was provided */
  valuesFor(henbId: string): ReferenceValues;
  entry(henbId: string): ProvidedEntry | undefined;
  /** after the last statement: the statements being saved are saved, and the journal's file is closed */
  close(): Promise<void>;
}

/** The leaves of a provide-reference-values input (RESTCONF JSON members or NETCONF leaf texts): the JWS. */
export function checkProvideLeaves(rec: Record<string, unknown>, base = '/henb-sw-verify-pve:provide-reference-values/input'): string {
  const bad = (tag: string, message: string, path: string): RestconfError =>
    new RestconfError({ 'error-type': 'protocol', 'error-tag': tag, 'error-message': message, 'error-path': path });
  for (const k of Object.keys(rec)) if (k !== 'reference-values') throw bad('unknown-element', `unknown input leaf "${k}"`, `${base}/${k}`);
  const v = rec['reference-values'];
  if (v === undefined) throw bad('missing-element', 'reference-values is mandatory', `${base}/reference-values`);
  if (typeof v !== 'string' || v.length > 65535) throw bad('invalid-value', 'reference-values must be a JWS (compact serialisation)', `${base}/reference-values`);
  return v;
}

function refused(tag: string, appTag: string, message: string): RestconfError {
  return new RestconfError({ 'error-type': 'application', 'error-tag': tag, 'error-app-tag': appTag, 'error-path': PROVIDE_INPUT_PATH, 'error-message': message });
}

/** token error code -> the refusal it is */
function refusalOf(code: string, message: string): RestconfError {
  switch (code) {
    case 'ERR_TOKEN_MALFORMED':
    case 'ERR_TOKEN_ALG_NOT_ALLOWED':
      return refused('invalid-value', 'reference-values-unsigned', 'the reference values are not signed with an allowed algorithm (ES256, EdDSA)');
    case 'ERR_TOKEN_KEY_UNKNOWN':
    case 'ERR_TOKEN_SIGNATURE':
      // one message for an unknown key and a bad signature: no oracle
      return refused('access-denied', 'reference-values-untrusted', 'the reference values are not signed by the configured OAM key');
    case 'ERR_TOKEN_EXPIRED':
    case 'ERR_TOKEN_TOO_OLD':
    case 'ERR_TOKEN_NOT_YET_VALID':
      return refused('invalid-value', 'reference-values-stale', `the reference values are stale: ${message}`);
    case 'ERR_TOKEN_REPLAY':
      return refused('invalid-value', 'reference-values-replayed', 'these reference values were provided before (replay)');
    default:
      return refused('invalid-value', 'reference-values-invalid', `not reference values for this PVE: ${message}`);
  }
}

export async function openProvidedReferenceValues(o: ProvidedReferenceValuesOptions): Promise<ProvidedReferenceValues> {
  const dir = join(o.dataDir, 'reference-values');
  const now = o.now ?? ((): number => Date.now() / 1000);
  const record = await ProvidedRecord.open(dir);
  return new Provided(o, now, record, new GroupedRun(() => record.write()));
}

/**
 * The OAM's keys: the configured JWKS, or the JWKS file's keys by the rule the OAM follows for its own key files
 * (src/tokens JwksFile): stat'ed at most once a second (and at once for a statement signed by a key it does not list)
 * and read again only when it changed, so a replaced file (the OAM's key rotation) is used from then on. A change that cannot be used (removed, unreadable, not a JWKS,
 * no key) keeps the last good set, with one warning per change. Before any good read (the file missing or bad since
 * the PVE started) there are no keys: statements are refused as untrusted, with one warning per problem until a good
 * file is read.
 */
function oamKeys(o: ProvidedReferenceValuesOptions): (options?: CurrentOptions) => Promise<Jwks | undefined> {
  const configured = o.oamJwks;
  if (configured === undefined || typeof configured !== 'string') return async () => configured;
  const file = new JwksFile(configured, {
    onProblem: ({ reason, error, kept }) => {
      o.log.warn('the OAM JWKS file changed and cannot be used: reference values are verified with the last good key set', {
        file: configured, reason, err: error, keptKids: kept.keys.map((k) => k.kid),
      });
    },
  });
  let warned: string | undefined;
  return async (options) => {
    try {
      const jwks = await file.current(options);
      warned = undefined;
      return jwks;
    } catch (err) {
      const problem = `${errorCode(err)}:${errorCode((err as { cause?: unknown }).cause)}`;
      if (warned !== problem) {
        warned = problem;
        o.log.warn('the OAM JWKS file is unreadable: reference values are refused', { file: configured, err });
      }
      return undefined;
    }
  };
}

/** The accepted statements by H(e)NB: checked one at a time, saved in a group. */
class Provided implements ProvidedReferenceValues {
  private readonly replay: ReplayCache;
  private readonly oamKeys: (options?: CurrentOptions) => Promise<Jwks | undefined>;
  /** the jti of every H(e)NB's current statement (entries is changed only by acceptNow, which keeps this in step) */
  private readonly currentJtis = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly o: ProvidedReferenceValuesOptions,
    private readonly now: () => number,
    /** the record: `set` marks an H(e)NB's entry for the next save */
    private readonly entries: KeyedJournal<ProvidedEntry>,
    /** group save: one write (an append of the entries changed since the last, provided-record.ts) persists every
     * statement accepted before it started; statements accepted while it runs share the next one */
    private readonly saver: GroupedRun,
  ) {
    this.replay = memoryReplayCache({ now });
    this.oamKeys = oamKeys(o);
    for (const e of entries.values()) this.currentJtis.add(e.jti);
  }

  /**
   * The replay cache, except that the jti of a statement that is some H(e)NB's current one passes: acceptNow then
   * answers it as a repeat only if it is the current statement of its own H(e)NB (the jti is signed with the sub).
   */
  private readonly replayOrCurrent: ReplayCache = {
    checkAndRemember: async (jti, expiresAtSec) => this.currentJtis.has(jti) || this.replay.checkAndRemember(jti, expiresAtSec),
  };

  async accept(jws: string): Promise<ReferenceValuesClaims> {
    // checked one at a time: the ordering check sees every statement accepted before; then saved in a group
    const run = this.queue.then(() => this.acceptNow(jws));
    this.queue = run.catch(() => undefined);
    const { claims, repeat } = await run;
    // a repeat waits for the save too: its first copy may still be in the group being written
    await this.saver.run();
    const fields = { henbId: claims.sub, jobId: claims['job-id'], values: claims['reference-values'].map((v) => v.component) };
    if (repeat) this.o.log.info('reference values provided again: already accepted, nothing changed', fields);
    else this.o.log.info('reference values accepted', fields);
    return claims;
  }

  valuesFor(henbId: string): ReferenceValues {
    const e = this.entries.get(henbId);
    if (e === undefined) return {};
    const out: Record<string, string[]> = {};
    for (const v of e.values) (out[v.component] ??= []).push(v.digest);
    return out;
  }

  entry(henbId: string): ProvidedEntry | undefined {
    return this.entries.get(henbId);
  }

  async close(): Promise<void> {
    await this.queue;
    await this.saver.idle();
    await this.entries.close();
  }

  private async acceptNow(jws: string): Promise<{ claims: ReferenceValuesClaims; repeat: boolean }> {
    const claims = await this.verified(jws);
    if (this.entries.get(claims.sub)?.jti === claims.jti) return { claims, repeat: true };
    this.checkForHenb(claims);
    const before = this.entries.get(claims.sub);
    if (before !== undefined) this.currentJtis.delete(before.jti);
    this.currentJtis.add(claims.jti);
    this.entries.set(claims.sub, { iat: claims.iat, jti: claims.jti, jobId: claims['job-id'], values: claims['reference-values'], acceptedAt: Date.now() });
    return { claims, repeat: false };
  }

  /** the statement's claims, verified with the OAM's keys (refusals: unsigned, untrusted, stale, replayed, invalid) */
  private async verified(jws: string): Promise<ReferenceValuesClaims> {
    const { o } = this;
    if (typeof jws !== 'string' || jws.trim() === '') throw refused('invalid-value', 'reference-values-unsigned', 'reference-values must be a JWS');
    const jwks = await this.oamKeys();
    if (jwks === undefined || jwks.keys.length === 0) {
      throw refused('access-denied', 'reference-values-untrusted', 'this PVE trusts no OAM key: reference values are refused (configure oam-jwks)');
    }
    try {
      return await verifyWithCurrentKeys(jwks, () => this.oamKeys({ fresh: true }), (keys) => verifyReferenceValues(jws.trim(), {
        jwks: keys, issuer: o.oamIssuer ?? 'urn:henb-sw-verify:oam', audience: o.audience, maxAgeSec: o.maxAgeSec ?? 300, replayCache: this.replayOrCurrent, now: this.now,
      }));
    } catch (err) {
      const e = refusalOf(errorCode(err), err instanceof Error ? err.message : 'refused');
      o.log.warn('reference values refused', { appTag: e.entry['error-app-tag'], code: errorCode(err) });
      throw e;
    }
  }

  /** a known H(e)NB, and a statement newer than the one accepted for it last */
  private checkForHenb(claims: ReferenceValuesClaims): void {
    if (!this.o.knownHenb(claims.sub)) {
      throw new RestconfError({ 'error-type': 'application', 'error-tag': 'invalid-value', 'error-app-tag': 'unknown-henb',
        'error-path': PROVIDE_INPUT_PATH, 'error-message': `unknown H(e)NB ${claims.sub}` });
    }
    // (the H(e)NB's current statement itself is a repeat, answered before this; after a restart the replay cache is
    // empty, and an older statement seen before is refused here as stale)
    const last = this.entries.get(claims.sub);
    if (last !== undefined && claims.iat < last.iat) {
      throw refused('invalid-value', 'reference-values-stale', `the reference values are stale: older than those accepted for ${claims.sub} (job ${last.jobId})`);
    }
  }
}
