/**
 * The trigger-connected Zendesk webhook the bridge asks users to configure for the ticket route
 * (research §A.2.5 "Trigger firing a webhook", after Botpress `integrations/zendesk/src/triggers.ts`).
 * Two triggers, each with a JSON body whose `type` is a literal, so nothing depends on how Zendesk
 * renders (or localises) `{{ticket.status}}`:
 *
 * - `comment`: a comment was added (public or private: the adapter must not forward internal
 *   notes, `comment.public` says which) by anything but the API (`current_via_id is_not 5`, research
 *   §A.2.3: the bridge's own comments are API updates, so their echoes are filtered at the source).
 * - `solved`: the status changed to solved.
 *
 * The simulator renders these exact strings with the placeholders below, so README and behaviour
 * cannot drift (test/simulators/zendesk-tickets.test.ts checks the README quotes them).
 * Placeholder names come from Zendesk's placeholders reference (support article 4408886858138) and
 * third-party templates (research §A.2.5); that `ticket.latest_comment.{id,is_public,author.*,attachments}`
 * and `attachment.{filename,url}` render as used here, and that values are JSON-escaped inside a
 * JSON body, is UNVERIFIED.
 */

/** `{{…}}` names the simulator knows; anything else renders empty, as an unknown placeholder would. */
export interface TemplateContext {
  ticket: {
    id: string;
    external_id: string;
    requester: { id: string; name: string; external_id: string };
    latest_comment: {
      id: string;
      value: string;
      is_public: string;
      author: { id: string; name: string };
      attachments: Array<{ filename: string; url: string }>;
    };
  };
  current_user: { id: string; name: string; role: string; external_id: string };
}

const TICKET = `"ticket": {
    "id": "{{ticket.id}}",
    "external_id": "{{ticket.external_id}}",
    "requester": {
      "id": "{{ticket.requester.id}}",
      "external_id": "{{ticket.requester.external_id}}"
    }
  }`;

const CURRENT_USER = `"current_user": {
    "id": "{{current_user.id}}",
    "name": "{{current_user.name}}",
    "role": "{{current_user.role}}",
    "external_id": "{{current_user.external_id}}"
  }`;

export const TRIGGER_TEMPLATES = {
  comment: `{
  "type": "comment",
  ${TICKET},
  "comment": {
    "id": "{{ticket.latest_comment.id}}",
    "public": "{{ticket.latest_comment.is_public}}",
    "body": "{{ticket.latest_comment.value}}",
    "author": {
      "id": "{{ticket.latest_comment.author.id}}",
      "name": "{{ticket.latest_comment.author.name}}"
    },
    "attachments": [{% for attachment in ticket.latest_comment.attachments %}{"filename": "{{attachment.filename}}", "url": "{{attachment.url}}"}{% unless forloop.last %},{% endunless %}{% endfor %}]
  },
  ${CURRENT_USER}
}`,
  solved: `{
  "type": "solved",
  ${TICKET},
  ${CURRENT_USER}
}`,
} as const;

export type TriggerName = keyof typeof TRIGGER_TEMPLATES;

/**
 * The two triggers as `POST /api/v2/triggers` bodies (research §A.2.5; condition fields from
 * Botpress `triggers.ts`). `comment_is_public is not_relevant` means "comment present, public or
 * private": UNVERIFIED value name. `webhookId` is the Zendesk webhook's id; `tag` (optional) limits
 * the triggers to tickets carrying the bridge's tag.
 */
export function triggerDefinitions(webhookId: string, tag?: string): Record<TriggerName, unknown> {
  const tagCondition = tag ? [{ field: 'current_tags', operator: 'includes', value: tag }] : [];
  const notApi = { field: 'current_via_id', operator: 'is_not', value: '5' };
  const action = (name: TriggerName) => [{ field: 'notification_webhook', value: [webhookId, TRIGGER_TEMPLATES[name]] }];
  return {
    comment: {
      trigger: {
        title: 'Blip bridge: comment added',
        conditions: { all: [{ field: 'comment_is_public', operator: 'is', value: 'not_relevant' }, notApi, ...tagCondition], any: [] },
        actions: action('comment'),
      },
    },
    solved: {
      trigger: {
        title: 'Blip bridge: ticket solved',
        conditions: { all: [{ field: 'status', operator: 'value', value: 'solved' }, notApi, ...tagCondition], any: [] },
        actions: action('solved'),
      },
    },
  };
}

function lookup(path: string, scope: Record<string, unknown>): unknown {
  let v: unknown = scope;
  for (const k of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** The placeholder text as it lands inside a JSON string: escaped (UNVERIFIED that Zendesk does this). */
function escapeJson(v: unknown): string {
  const s = v === undefined || v === null || typeof v === 'object' ? '' : String(v);
  return JSON.stringify(s).slice(1, -1);
}

/**
 * Renders the subset of Liquid the templates use: `{{ a.b }}`, `{% for x in a.b %}…{% endfor %}`
 * and `{% unless forloop.last %}…{% endunless %}` inside the loop.
 */
export function renderTemplate(template: string, ctx: TemplateContext): string {
  return render(template, ctx as unknown as Record<string, unknown>);
}

function render(template: string, scope: Record<string, unknown>): string {
  const loop = /\{%\s*for\s+(\w+)\s+in\s+([\w.]+)\s*%\}([\s\S]*?)\{%\s*endfor\s*%\}/g;
  const expanded = template.replace(loop, (_m, name: string, path: string, body: string) => {
    const items = lookup(path, scope);
    if (!Array.isArray(items)) return '';
    return items
      .map((item, i) => {
        const inner = body.replace(/\{%\s*unless\s+forloop\.last\s*%\}([\s\S]*?)\{%\s*endunless\s*%\}/g, (_u, text: string) =>
          i === items.length - 1 ? '' : text,
        );
        return render(inner, { ...scope, [name]: item, forloop: { last: i === items.length - 1, index: i + 1 } });
      })
      .join('');
  });
  return expanded.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_m, path: string) => escapeJson(lookup(path, scope)));
}
