import { HsvError } from '../errors.js';

/** Codes: see the list at the top of ./types.ts. */
export type StoreErrorCode =
  | 'ERR_STORE_CONFLICT'
  | 'ERR_STORE_NOT_FOUND'
  | 'ERR_STORE_DUPLICATE'
  | 'ERR_STORE_HENB_BUSY'
  | 'ERR_STORE_INVALID'
  | 'ERR_STORE_CLOSED'
  | 'ERR_STORE_OPEN'
  | 'ERR_STORE_CHECKPOINT';

export class StoreError extends HsvError<StoreErrorCode> {
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
