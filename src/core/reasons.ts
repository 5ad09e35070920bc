/**
 * What we tell the outside (Blip's `failed` notifications, the agent) when something did not get
 * through: a stable code and a plain sentence. Never the error itself: it can hold a helpdesk's
 * internal URL, a host or a response body (issue 11).
 */
export const FAILURES = {
  /** A customer message the helpdesk never took (dead after its retries, or refused for good). */
  HELPDESK_UNDELIVERED: { code: 101, text: 'The message could not be delivered to the support team.' },
  /** The hand-off itself failed: nothing was opened in the helpdesk. */
  HELPDESK_OPEN_FAILED: { code: 102, text: 'The conversation could not be handed to the support team.' },
  /** An agent message Blip refused (its `failed` notification, or a 4xx). */
  BLIP_REFUSED: { code: 201, text: 'The customer could not receive this message.' },
  /** An agent message that died after its retries on the way to Blip. */
  DELIVERY_DEAD: { code: 202, text: 'The message could not be delivered to the customer after several attempts.' },
} as const;

export type FailureCode = keyof typeof FAILURES;
