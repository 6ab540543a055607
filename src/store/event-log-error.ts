/** The event log's coded error (its own file: src/store/event-log.ts and legacy-event-log.ts both raise it). */
import { HsvError } from '../errors.js';

export type EventLogErrorCode = 'ERR_EVENT_LOG_OPEN' | 'ERR_EVENT_LOG_CLOSED' | 'ERR_EVENT_LOG_IMPORT';

export class EventLogError extends HsvError<EventLogErrorCode> {}
