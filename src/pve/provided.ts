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
 * A list statement (src/tokens verifyReferenceValuesList, typ rv-list+jwt; provide-reference-values-list's
 * reference-values-list) is verified once: a bad signature, another typ, issuer or audience, a stale or replayed
 * list refuses every entry (acceptList rejects, error-path the list statement's leaf). Then each entry is taken as a
 * single statement is (its shape, unknown H(e)NB, older than the last accepted), its refusal its own. The entries
 * share the list's jti: an H(e)NB whose current statement is an entry of the list answers a repeat of the list as
 * accepted; the list's other entries are then refused as replayed, so a list sent again cannot bring back values
 * that a newer statement has replaced.
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
import { JwksFile, memoryReplayCache, verifyReferenceValues, verifyReferenceValuesList, verifyWithCurrentKeys } from '../tokens/index.js';
import type { CurrentOptions, Jwks, ReferenceValuesClaims, ReplayCache, VerifiedReferenceValuesList, VerifyReferenceValuesOptions } from '../tokens/index.js';
import { RestconfError } from './restconf.js';
import { ProvidedRecord } from './provided-record.js';
import type { ProvidedEntry } from './provided-record.js';
import type { KeyedJournal } from './keyed-journal.js';

export { ProvidedFileError } from './provided-record.js';
export type { ProvidedEntry } from './provided-record.js';

export const PROVIDE_INPUT_PATH = '/henb-sw-verify-pve:provide-reference-values/input/reference-values';
/** the list statement's leaf in provide-reference-values-list (revision 2026-12-07): the path of its refusals */
export const PROVIDE_LIST_INPUT_PATH = '/henb-sw-verify-pve:provide-reference-values-list/input/reference-values-list';


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
  /**
   * verify a list statement once, then take each entry as accept takes a single statement; rejects with a
   * RestconfError (every entry refused) when the list itself is refused (see the module comment)
   */
  acceptList(jws: string): Promise<ListEntryOutcome[]>;
  /** the values accepted for an H(e)NB (component -> digests), none when nothing was provided */
  valuesFor(henbId: string): ReferenceValues;
  entry(henbId: string): ProvidedEntry | undefined;
  /** after the last statement: the statements being saved are saved, and the journal's file is closed */
  close(): Promise<void>;
}

/** one entry of a list statement (index: its position in the statement's entries): accepted, or refused */
export type ListEntryOutcome = { index: number; claims: ReferenceValuesClaims; repeat: boolean } | { index: number; error: RestconfError };

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

function refused(tag: string, appTag: string, message: string, path = PROVIDE_INPUT_PATH): RestconfError {
  return new RestconfError({ 'error-type': 'application', 'error-tag': tag, 'error-app-tag': appTag, 'error-path': path, 'error-message': message });
}

/** token error code -> the refusal it is (the error-path: the single statement's leaf, or the list statement's) */
function refusalOf(code: string, message: string, path: string): RestconfError {
  const refusedAt = (tag: string, appTag: string, text: string): RestconfError => refused(tag, appTag, text, path);
  switch (code) {
    case 'ERR_TOKEN_MALFORMED':
    case 'ERR_TOKEN_ALG_NOT_ALLOWED':
      return refusedAt('invalid-value', 'reference-values-unsigned', 'the reference values are not signed with an allowed algorithm (ES256, EdDSA)');
    case 'ERR_TOKEN_KEY_UNKNOWN':
    case 'ERR_TOKEN_SIGNATURE':
      // one message for an unknown key and a bad signature: no oracle
      return refusedAt('access-denied', 'reference-values-untrusted', 'the reference values are not signed by the configured OAM key');
    case 'ERR_TOKEN_EXPIRED':
    case 'ERR_TOKEN_TOO_OLD':
    case 'ERR_TOKEN_NOT_YET_VALID':
      return refusedAt('invalid-value', 'reference-values-stale', `the reference values are stale: ${message}`);
    case 'ERR_TOKEN_REPLAY':
      return refusedAt('invalid-value', 'reference-values-replayed', 'these reference values were provided before (replay)');
    default:
      return refusedAt('invalid-value', 'reference-values-invalid', `not reference values for this PVE: ${message}`);
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
  /**
   * the jti of every H(e)NB's current statement, with how many H(e)NBs hold it (a list statement's entries share
   * its jti; entries is changed only by take, which keeps this in step)
   */
  private readonly currentJtis = new Map<string, number>();
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
    for (const e of entries.values()) this.currentJtis.set(e.jti, (this.currentJtis.get(e.jti) ?? 0) + 1);
  }

  /**
   * The replay cache, except that the jti of a statement that is some H(e)NB's current one passes: it is then
   * answered as a repeat only for the H(e)NB whose current statement it is (the jti is signed with the sub; a list
   * statement's other entries are refused as replayed: acceptListNow).
   */
  private readonly replayOrCurrent: ReplayCache = {
    checkAndRemember: async (jti, expiresAtSec) => this.currentJtis.has(jti) || this.replay.checkAndRemember(jti, expiresAtSec),
  };

  async accept(jws: string): Promise<ReferenceValuesClaims> {
    // checked one at a time: the ordering check sees every statement accepted before; then saved in a group
    const { claims, repeat } = await this.inTurn(() => this.acceptNow(jws));
    // a repeat waits for the save too: its first copy may still be in the group being written
    await this.saver.run();
    this.logAccepted(claims, repeat);
    return claims;
  }

  async acceptList(jws: string): Promise<ListEntryOutcome[]> {
    const outcomes = await this.inTurn(() => this.acceptListNow(jws));
    await this.saver.run();
    for (const r of outcomes) if ('claims' in r) this.logAccepted(r.claims, r.repeat);
    return outcomes;
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

  /** `fn` after every statement before it (the ordering check sees them all) */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private logAccepted(claims: ReferenceValuesClaims, repeat: boolean): void {
    const fields = { henbId: claims.sub, jobId: claims['job-id'], values: claims['reference-values'].map((v) => v.component) };
    if (repeat) this.o.log.info('reference values provided again: already accepted, nothing changed', fields);
    else this.o.log.info('reference values accepted', fields);
  }

  private async acceptNow(jws: string): Promise<{ claims: ReferenceValuesClaims; repeat: boolean }> {
    const claims = await this.verified(jws, PROVIDE_INPUT_PATH, (opts) => verifyReferenceValues(jws.trim(), opts));
    if (this.entries.get(claims.sub)?.jti === claims.jti) return { claims, repeat: true };
    this.checkForHenb(claims, PROVIDE_INPUT_PATH);
    this.take(claims);
    return { claims, repeat: false };
  }

  /**
   * A list statement: verified once (a refusal refuses every entry), then each entry in order as acceptNow takes a
   * single statement. A list seen before passes the replay check only while an entry of it is some H(e)NB's current
   * statement: that entry is a repeat, every other entry is refused as replayed (it was refused, or has been
   * superseded since: sending the list again must not bring older values back).
   */
  private async acceptListNow(jws: string): Promise<ListEntryOutcome[]> {
    const list = await this.verified(jws, PROVIDE_LIST_INPUT_PATH, (opts) => verifyReferenceValuesList(jws.trim(), opts));
    const again = this.currentJtis.has(list.claims.jti);
    return list.entries.map((e): ListEntryOutcome => {
      try {
        return { index: e.index, ...this.takeEntry(e, again) };
      } catch (err) {
        if (err instanceof RestconfError) return { index: e.index, error: err };
        throw err;
      }
    });
  }

  /** one entry of a verified list statement (`again`: the list was accepted before) */
  private takeEntry(e: VerifiedReferenceValuesList['entries'][number], again: boolean): { claims: ReferenceValuesClaims; repeat: boolean } {
    if ('problem' in e) throw refused('invalid-value', 'reference-values-invalid', `not reference values for this PVE: ${e.problem}`, PROVIDE_LIST_INPUT_PATH);
    const { claims } = e;
    if (this.entries.get(claims.sub)?.jti === claims.jti) return { claims, repeat: true };
    if (again) throw refusalOf('ERR_TOKEN_REPLAY', 'replay', PROVIDE_LIST_INPUT_PATH);
    this.checkForHenb(claims, PROVIDE_LIST_INPUT_PATH);
    this.take(claims);
    return { claims, repeat: false };
  }

  /** the statement becomes its H(e)NB's current one */
  private take(claims: ReferenceValuesClaims): void {
    const before = this.entries.get(claims.sub);
    if (before !== undefined) {
      const n = (this.currentJtis.get(before.jti) ?? 1) - 1;
      if (n > 0) this.currentJtis.set(before.jti, n);
      else this.currentJtis.delete(before.jti);
    }
    this.currentJtis.set(claims.jti, (this.currentJtis.get(claims.jti) ?? 0) + 1);
    this.entries.set(claims.sub, { iat: claims.iat, jti: claims.jti, jobId: claims['job-id'], values: claims['reference-values'], acceptedAt: Date.now() });
  }

  /** a statement verified with the OAM's keys by `verify` (refusals at `path`: unsigned, untrusted, stale, replayed, invalid) */
  private async verified<T>(jws: string, path: string, verify: (options: VerifyReferenceValuesOptions) => Promise<T>): Promise<T> {
    const { o } = this;
    if (typeof jws !== 'string' || jws.trim() === '') throw refused('invalid-value', 'reference-values-unsigned', 'reference-values must be a JWS', path);
    const jwks = await this.oamKeys();
    if (jwks === undefined || jwks.keys.length === 0) {
      throw refused('access-denied', 'reference-values-untrusted', 'this PVE trusts no OAM key: reference values are refused (configure oam-jwks)', path);
    }
    try {
      return await verifyWithCurrentKeys(jwks, () => this.oamKeys({ fresh: true }), (keys) => verify({
        jwks: keys, issuer: o.oamIssuer ?? 'urn:henb-sw-verify:oam', audience: o.audience, maxAgeSec: o.maxAgeSec ?? 300, replayCache: this.replayOrCurrent, now: this.now,
      }));
    } catch (err) {
      const e = refusalOf(errorCode(err), err instanceof Error ? err.message : 'refused', path);
      o.log.warn('reference values refused', { appTag: e.entry['error-app-tag'], code: errorCode(err) });
      throw e;
    }
  }

  /** a known H(e)NB, and a statement newer than the one accepted for it last */
  private checkForHenb(claims: ReferenceValuesClaims, path: string): void {
    if (!this.o.knownHenb(claims.sub)) {
      throw new RestconfError({ 'error-type': 'application', 'error-tag': 'invalid-value', 'error-app-tag': 'unknown-henb',
        'error-path': path, 'error-message': `unknown H(e)NB ${claims.sub}` });
    }
    // (the H(e)NB's current statement itself is a repeat, answered before this; after a restart the replay cache is
    // empty, and an older statement seen before is refused here as stale)
    const last = this.entries.get(claims.sub);
    if (last !== undefined && claims.iat < last.iat) {
      throw refused('invalid-value', 'reference-values-stale', `the reference values are stale: older than those accepted for ${claims.sub} (job ${last.jobId})`, path);
    }
  }
}
