/** What a JobRunner is built from (its ports and policies) and what it reports to. */
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/index.js';
import type { Clock, DeviceDriver, PveClient, SoftwareFetcher, SoftwareManifestCheck } from './ports.js';

/** how step 3's evidence reaches the PVE (RunnerOptions.pveEvidence) */
export type PveEvidenceMode = 'collect' | 'relay';
import type { ResultTokens } from './result-token.js';
import type { Step } from './steps.js';
import type { Job, JobRequest, StepTimeouts } from './transition.js';

/** One saved state of a job, as the store's job event records it (its toState and at). */
export interface SavedState {
  readonly toState: string;
  readonly at: number;
}

/** Where the runner reports what happens (the northbound adapter maps these to NETCONF notifications). */
export interface OamEvents {
  progress(job: Job, step: Step, text: string): void | Promise<void>;
  /**
   * A job reached its final state (it is stored). `saved`: the job's saved states so far, in order, as its job events
   * in the store record them, when this instance saw every one of them (the job was created here, or admitted at its
   * first version); undefined when it did not (a job resumed or taken over: the store has them).
   */
  result(job: Job, saved?: readonly SavedState[]): void | Promise<void>;
  alarm(job: Job, text: string): void | Promise<void>;
}

export interface RunnerOptions {
  store: Store;
  pve: PveClient;
  /**
   * step 3 (config pve.evidence): collect (default) the PVE collects the evidence over its own device session; relay
   * (the background-check model, RFC 9334) the OAM collects it with devices.integrityMeasurement on the job's device
   * session, which its software-update then uses too, and relays it to the PVE (one device session per update)
   */
  pveEvidence?: PveEvidenceMode;
  devices: DeviceDriver;
  fetcher: SoftwareFetcher;
  /** policy require-signed-software: every image's vendor-signed manifest is checked before the software-update */
  softwareManifest?: SoftwareManifestCheck;
  tokens: ResultTokens;
  events: OamEvents;
  newNonce: () => string;
  clock?: Clock;
  log?: Logger;
  newJobId?: () => string;
  /** defaults for every job (a request may override) */
  timeouts?: Partial<StepTimeouts>;
  /** the measurement-log component a software update replaces (default rootfs) */
  updatedComponent?: string;
  /**
   * this OAM instance's id, the owner of its jobs' leases in the store (default: 'local' on a SQLite store, else
   * host, pid and a random part, so that each process is an instance)
   */
  instanceId?: string;
  /** how long a job's lease lasts without renewal, ms (default 60000); renewed every leaseMs/3 */
  leaseMs?: number;
  /**
   * the check after a rollback (fresh evidence through the PVE must give the stored RIM): how many attempts
   * (default 6) and the delay before the second one (default 2000 ms, doubled each time); all of them within the
   * job's completion timeout (a rolled-back device reboots)
   */
  rollbackCheck?: { attempts?: number; firstDelayMs?: number };
  /**
   * jobs driven at once (default 500, runner.ts DEFAULT_MAX_ACTIVE_JOBS): further submitted jobs are stored and
   * wait for a slot as compact records (admission.ts)
   */
  maxActiveJobs?: number;
}

export interface StartRequest {
  henbId: string;
  request: JobRequest;
  timeouts?: Partial<StepTimeouts>;
}
