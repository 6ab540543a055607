/** Results of a conformance run (what the report, --json and --junit show). */
import type { RequirementId, RequirementLevel } from './requirements.js';

export type Outcome = 'pass' | 'fail' | 'skip';

/** One message exchange the kit made for a requirement, as it went over the wire (XML text). */
export interface Exchange {
  /** what the kit sent (an <rpc> body, or a description such as 'reconnect') */
  sent: string;
  /** what came back (rpc-reply, rpc-error, notification), or why nothing did */
  received: string;
}

export interface RequirementResult {
  id: RequirementId;
  title: string;
  level: RequirementLevel;
  outcome: Outcome;
  /** one line: why it passed (what was seen), failed, or was skipped */
  detail: string;
  /** for a fail: what the requirement expected */
  expected?: string;
  /** the exchanges behind the verdict (for a fail: what was sent and what came back) */
  exchanges: Exchange[];
  /**
   * a signature check that passed with the key the device presents (state attestation-key), not an enrolled
   * one: the device signs consistently with the key it shows, but nothing proves it is the device one enrolled
   */
  unpinned?: boolean;
}

export interface ConformanceReport {
  device: string;
  trustRoot: 'software' | 'tpm';
  /** whether signature checks used an enrolled key (--device-public-key) */
  keyPinned: boolean;
  /**
   * the key the signature checks used: pinned (--device-public-key), presented (unpinned: the device's
   * attestation-key, HSV-KEY-01 passed), none (unpinned and no usable presented key: the checks skipped)
   */
  keySource: 'pinned' | 'presented' | 'none';
  startedAt: string;
  finishedAt: string;
  results: RequirementResult[];
  /** every mandatory requirement passed */
  ok: boolean;
  /** the device's state when the kit left it (running slot, TIM), or why it is unknown */
  leftState: string;
  /** the run was stopped (SIGINT/SIGTERM) before every check ran */
  interrupted?: boolean;
}
