/**
 * The nine steps of the seed's flow (docs/architecture.md "The nine steps"), by name. Progress
 * notifications, the jobs state and the transition table say which step they are at with these, never
 * with a bare number; the number is what the YANG leaf `step` (1..9) carries.
 */
export const STEP = {
  /** 1: the NMS asks for a software update (software-update RPC) */
  request: 1,
  /** 2: integrity-request to the PVE with a fresh nonce */
  pveRequest: 2,
  /** 3: the PVE collects and appraises evidence from the H(e)NB */
  pveEvidence: 3,
  /** 4: the PVE's signed verdict, verified by the OAM */
  pveVerdict: 4,
  /** 5: fetch the software, RIM and expected RIM */
  fetch: 5,
  /** 6: software-update to the H(e)NB */
  sendUpdate: 6,
  /** 7: the H(e)NB installs, re-measures, self-checks */
  install: 7,
  /** 8: completion with the TIM */
  completion: 8,
  /** 9: TIM against the expected RIM; store the RIM, or the measures on mismatch */
  compare: 9,
} as const;

export type StepName = keyof typeof STEP;
export type Step = (typeof STEP)[StepName];
