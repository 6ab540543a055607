/**
 * The reference values an appraisal compares with: the PVE's own (configured, plus digests added at run time),
 * the digests of the approved software images (for the updated component), and those the OAM provided for the
 * H(e)NB after a verified update (provided.ts).
 */
import { SOFTWARE_COMPONENT as UPDATED_COMPONENT } from '../integrity/index.js';
import type { ReferenceValues } from '../integrity/index.js';
import type { ApprovedSoftware } from './approved.js';
import type { ProvidedReferenceValues } from './provided.js';

export class PveReferences {
  private readonly own: ReferenceValues;

  constructor(referenceValues: ReferenceValues, private readonly approved: ApprovedSoftware, private readonly provided: ProvidedReferenceValues) {
    this.own = Object.fromEntries(Object.entries(referenceValues).map(([k, v]) => [k, [...v]]));
  }

  /** add an accepted digest for a component, for every H(e)NB (a vendor's published values) */
  add(component: string, digest: string): void {
    const list = this.own[component] ?? (this.own[component] = []);
    if (!list.includes(digest)) list.push(digest);
  }

  /** the PVE's own reference values, plus those the OAM provided for this H(e)NB */
  async for(henbId: string): Promise<ReferenceValues> {
    const base = await this.ownNow();
    const provided = this.provided.valuesFor(henbId);
    if (Object.keys(provided).length === 0) return base;
    const merged = { ...base };
    for (const [component, digests] of Object.entries(provided)) merged[component] = [...new Set([...(base[component] ?? []), ...digests])];
    return merged;
  }

  /** the own values with the approved images' digests for the updated component */
  private async ownNow(): Promise<ReferenceValues> {
    const extra = await this.approved.digests();
    if (extra.length === 0) return this.own;
    const merged = { ...this.own };
    merged[UPDATED_COMPONENT] = [...new Set([...(this.own[UPDATED_COMPONENT] ?? []), ...extra])];
    return merged;
  }
}
