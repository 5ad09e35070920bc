/**
 * The one catalog of coded errors (DESIGN §10). Every 4xx/5xx the service answers comes from here;
 * docs/errors.md lists the same codes and a test keeps them in sync.
 */
export const ERRORS = {
  BRIDGE_ERR_UNAUTHORIZED: { status: 401, message: 'Missing or wrong credentials.' },
  BRIDGE_ERR_BAD_SIGNATURE: { status: 401, message: 'The signature is missing, wrong or stale.' },
  BRIDGE_ERR_UNKNOWN_BOT: { status: 404, message: 'No bot with this id is configured.' },
  BRIDGE_ERR_INVALID_JSON: { status: 400, message: 'The body is not valid JSON.' },
  BRIDGE_ERR_INVALID_ENVELOPE: { status: 400, message: 'The LIME envelope is not valid.' },
  BRIDGE_ERR_INVALID_CONTENT: { status: 400, message: 'The content does not match its type.' },
  BRIDGE_ERR_NOT_ROUTED: { status: 400, message: 'The message did not come through a Blip router (from is not a tunnel address).' },
  BRIDGE_ERR_UNSENDABLE_CONTENT: { status: 400, message: 'The agent message cannot be sent to the customer.' },
  BRIDGE_ERR_INVALID_EVENT: { status: 400, message: 'The webhook event is not valid.' },
  BRIDGE_ERR_INVALID_REQUEST: { status: 400, message: 'The request is not valid.' },
  BRIDGE_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The body must be application/json.' },
  BRIDGE_ERR_BODY_TOO_LARGE: { status: 413, message: 'The body is larger than the limit.' },
  BRIDGE_ERR_NOT_FOUND: { status: 404, message: 'Not found.' },
  BRIDGE_ERR_UNKNOWN_ATTENDANCE: { status: 404, message: 'No attendance with this id.' },
  BRIDGE_ERR_ATTENDANCE_CLOSED: { status: 409, message: 'The attendance is closed or closing.' },
  BRIDGE_ERR_DELIVERY_NOT_DEAD: { status: 409, message: 'Only a dead delivery can be retried.' },
  BRIDGE_ERR_REPLAY_UNSAFE: { status: 409, message: 'The attendance moved on since this delivery died: replaying it would do harm.' },
  BRIDGE_ERR_NOT_READY: { status: 503, message: 'The service is not ready.' },
  // 503, not 500: nothing was stored, and vendors retry a 503 (Zendesk does not retry a 500).
  BRIDGE_ERR_INTERNAL: { status: 503, message: 'The request could not be processed now; nothing was stored. Retry.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class BridgeError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    /** Specific detail for the caller (never a secret or an expected signature). */
    readonly detail?: string,
  ) {
    super(detail ?? ERRORS[code].message);
    this.name = 'BridgeError';
    this.status = ERRORS[code].status;
  }

  toJSON(): { error: { code: ErrorCode; message: string; detail?: string } } {
    return { error: { code: this.code, message: ERRORS[this.code].message, ...(this.detail ? { detail: this.detail } : {}) } };
  }
}
