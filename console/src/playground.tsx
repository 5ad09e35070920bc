/**
 * The sandbox's playground: the customer's phone (the Blip simulator's router) beside the agent's
 * desk (the helpdesk simulator's agent side), both reading /playground/api/state every 0.8 s.
 * Everything shown is what the simulators hold: what the router delivered to the phone, what the
 * helpdesk shows its agent.
 */
import { render } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiFailure, type Content } from './api.js';
import { ContentView } from './content.js';
import { clock, usePoll } from './util.js';

interface ThreadMessage {
  id: string;
  direction: 'sent' | 'received';
  type: string;
  content: unknown;
  date: string;
}

interface Redirect {
  from: string;
  to: string;
  at: number;
  context?: { type: string; value: unknown };
}

interface DeskConversation {
  key: string;
  customer: string;
  state: string;
  closed: boolean;
  transcript: string[];
  messages: Array<{ from: 'customer' | 'agent' | 'system'; text: string; at: number; media?: { url: string; name: string } }>;
  customerTyping: boolean;
}

interface State {
  bot: string;
  helpdesk: string;
  deskUrl: string;
  console: { path: string; token: string };
  attendance: Record<string, unknown>;
  customer: { originator: string; name: string; activeService: string | null; humanService: string; thread: ThreadMessage[]; redirects: Redirect[] };
  desk: { conversations: DeskConversation[] };
}

const MIME = {
  text: 'text/plain',
  media: 'application/vnd.lime.media-link+json',
  location: 'application/vnd.lime.location+json',
  select: 'application/vnd.lime.select+json',
  chatstate: 'application/vnd.lime.chatstate+json',
  redirect: 'application/vnd.lime.redirect+json',
} as const;

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});

/** A LIME content as the phone shows it, through the console's content view. */
function limeAsContent(type: string, content: unknown): Content {
  const c = obj(content);
  if (type === MIME.text) return { type: 'text', text: String(content) };
  if (type === MIME.media) return { type: 'media', url: String(c['uri'] ?? ''), mimeType: String(c['type'] ?? 'file'), name: String(c['title'] ?? 'file'), ...(typeof c['text'] === 'string' ? { caption: c['text'] } : {}), text: String(c['text'] ?? '') };
  if (type === MIME.location) return { type: 'location', latitude: c['latitude'], longitude: c['longitude'], name: c['text'], text: String(c['text'] ?? '') };
  if (type === MIME.select) {
    const options = Array.isArray(c['options']) ? (c['options'] as Obj[]) : [];
    return { type: 'choices', prompt: String(c['text'] ?? ''), text: String(c['text'] ?? ''), options: options.map((o) => ({ label: String(o['text'] ?? o['value'] ?? '') })) };
  }
  return { type: 'unsupported', mimeType: type, text: typeof content === 'string' ? content : JSON.stringify(content) };
}

function selectOptions(m: ThreadMessage): string[] {
  const options = obj(m.content)['options'];
  return Array.isArray(options) ? (options as Obj[]).map((o) => String(o['text'] ?? o['value'] ?? '')) : [];
}

function contextSummary(r: Redirect): string {
  if (!r.context) return 'no context';
  const v = obj(r.context.value);
  const parts = [v['status'], v['closeReason'] ?? v['reason'], v['agentIdentity'] ?? obj(v['agent'])['name']].filter((x) => typeof x === 'string');
  return `${r.context.type}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

function Phone({ s, refresh }: { s: State; refresh: () => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const c = s.customer;
  const withUs = c.activeService === c.humanService;
  const say = async (body: Obj) => {
    try {
      await api('POST', '/playground/api/customer/says', body);
      setError(undefined);
    } catch (e) {
      setError(e instanceof ApiFailure ? e.message : String(e));
    }
    refresh();
  };
  const items: Array<{ at: number; node: preact.JSX.Element }> = [];
  let lastChatstate: ThreadMessage | undefined;
  let lastSent: ThreadMessage | undefined;
  const visible = c.thread.filter((m) => m.type !== MIME.chatstate && m.type !== MIME.redirect);
  const lastSelect = [...visible].reverse().find((m) => m.direction === 'sent')?.type === MIME.select ? [...visible].reverse().find((m) => m.direction === 'sent') : undefined;
  for (const m of c.thread) {
    if (m.type === MIME.chatstate) {
      if (m.direction === 'sent') lastChatstate = m;
      continue;
    }
    if (m.type === MIME.redirect) continue;
    if (m.direction === 'sent') lastSent = m;
    const mine = m.direction === 'received';
    items.push({
      at: Date.parse(m.date),
      node: (
        <li key={m.id} class={`bubble ${mine ? 'from-me' : 'from-them'}`}>
          <ContentView content={limeAsContent(m.type, m.content)} />
          <div class="who">
            <time dateTime={m.date}>{clock(m.date)}</time>
          </div>
        </li>
      ),
    });
  }
  for (const r of c.redirects) {
    items.push({
      at: r.at,
      node: (
        <li key={`r${r.at}`} class="event info" data-redirect>
          ↩ Redirect: back to the bot (“{r.to}”) — {contextSummary(r)}
        </li>
      ),
    });
  }
  items.sort((a, b) => a.at - b.at);
  const typing = lastChatstate && obj(lastChatstate.content)['state'] === 'composing' && (!lastSent || Date.parse(lastChatstate.date) >= Date.parse(lastSent.date));
  return (
    <section class="phone" aria-labelledby="phone-title">
      <h2 id="phone-title">Customer's phone</h2>
      <p class="caption">
        {c.name} ({c.originator}), through the Blip router: now with{' '}
        <strong>{withUs ? `the human attendance (${s.bot})` : `the bot (service “${c.activeService ?? 'main'}”)`}</strong>
      </p>
      <ol class="chat screen" aria-label="Phone conversation" aria-live="polite">
        {items.map((i) => i.node)}
        {typing ? (
          <li class="bubble from-them typing" aria-label="The agent is typing">
            typing…
          </li>
        ) : null}
      </ol>
      {lastSelect ? (
        <div class="menu" role="group" aria-label="Menu options">
          {selectOptions(lastSelect).map((o) => (
            <button key={o} type="button" class="option" onClick={() => void say({ kind: 'text', text: o })}>
              {o}
            </button>
          ))}
        </div>
      ) : null}
      {!withUs ? (
        <p class="handback">
          The main bot has the customer again.{' '}
          <button type="button" onClick={() => void api('POST', '/playground/api/customer/handoff').then(refresh)}>
            Talk to a person again
          </button>
        </p>
      ) : null}
      <form
        class="compose"
        onSubmit={(e) => {
          e.preventDefault();
          if (text.trim()) void say({ kind: 'text', text }).then(() => setText(''));
        }}
      >
        <label for="customer-text" class="sr-only">
          Customer's message
        </label>
        <input id="customer-text" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="Type as the customer…" autocomplete="off" />
        <button type="submit">Send</button>
      </form>
      <div class="actions">
        <button type="button" onClick={() => void say({ kind: 'picture', caption: 'This is what arrived' })}>
          Send a picture
        </button>
        <button type="button" onClick={() => void say({ kind: 'location' })}>
          Send a location
        </button>
      </div>
      {error ? (
        <p role="alert" class="error">
          {error}
        </p>
      ) : null}
    </section>
  );
}

function DeskView({ s, refresh }: { s: State; refresh: () => void }) {
  const [picked, setPicked] = useState<string | undefined>(undefined);
  const [text, setText] = useState('');
  const [typing, setTyping] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const list = s.desk.conversations;
  const conv = list.find((c) => c.key === picked) ?? list[0];
  const act = async (body: Obj) => {
    if (!conv) return;
    try {
      await api('POST', `/playground/api/desk/${encodeURIComponent(conv.key)}`, body);
      setError(undefined);
    } catch (e) {
      setError(e instanceof ApiFailure ? e.message : String(e));
    }
    refresh();
  };
  return (
    <section class="desk" aria-labelledby="desk-title">
      <h2 id="desk-title">Agent's desk</h2>
      <p class="caption">
        The {s.helpdesk} simulator's agent side ({s.deskUrl})
      </p>
      {list.length > 1 ? (
        <label>
          Attendance{' '}
          <select value={conv?.key} onChange={(e) => setPicked(e.currentTarget.value)}>
            {list.map((c) => (
              <option key={c.key} value={c.key}>
                {c.customer} — {c.state}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      {!conv ? (
        <p class="muted">No attendance yet: the customer's first message opens one here.</p>
      ) : (
        <>
          <h3>
            {conv.customer} <span class={`state ${conv.closed ? 'state-closed' : 'state-open'}`}>{conv.state}</span>
          </h3>
          <details open={!conv.messages.length}>
            <summary>Bot transcript ({conv.transcript.length} lines)</summary>
            <ul class="transcript-lines">
              {conv.transcript.map((t, i) => (
                <li key={i}>{t}</li>
              ))}
            </ul>
          </details>
          <ol class="chat screen" aria-label="Desk conversation" aria-live="polite">
            {conv.messages.map((m, i) => (
              <li key={i} class={`bubble ${m.from === 'agent' ? 'from-me' : m.from === 'system' ? 'from-system' : 'from-them'}`}>
                {m.media && /^https?:/.test(m.media.url) ? <img src={m.media.url} alt={m.media.name} /> : null}
                <p class="text">{m.text}</p>
                <div class="who">{clock(new Date(m.at).toISOString())}</div>
              </li>
            ))}
            {conv.customerTyping ? (
              <li class="bubble from-them typing" aria-label="The customer is typing">
                typing…
              </li>
            ) : null}
          </ol>
          {conv.closed ? (
            <p class="muted">This attendance has ended.</p>
          ) : (
            <>
              <form
                class="compose"
                onSubmit={(e) => {
                  e.preventDefault();
                  if (text.trim()) void act({ action: 'reply', text }).then(() => setText(''));
                }}
              >
                <label for="agent-text" class="sr-only">
                  Agent's reply
                </label>
                <input id="agent-text" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="Reply as the agent…" autocomplete="off" />
                <button type="submit">Reply</button>
              </form>
              <div class="actions">
                <button
                  type="button"
                  aria-pressed={typing}
                  onClick={() => {
                    setTyping(!typing);
                    void act({ action: 'typing', on: !typing });
                  }}
                >
                  {typing ? 'Stop typing' : 'Show typing'}
                </button>
                <button type="button" onClick={() => void act({ action: 'file' })}>
                  Send a file
                </button>
                <button type="button" class="danger" onClick={() => void act({ action: 'end' })}>
                  End / solve
                </button>
              </div>
            </>
          )}
          {error ? (
            <p role="alert" class="error">
              {error}
            </p>
          ) : null}
        </>
      )}
    </section>
  );
}

function Playground() {
  const { data, error, refresh } = usePoll(() => api<State>('GET', '/playground/api/state'), 800, []);
  if (!data) return <p aria-live="polite">{error ? <span class="error">{error}</span> : 'Loading…'}</p>;
  const timers = JSON.stringify(obj(data.attendance)['inactivity'] ?? obj(data.attendance)['waitingForAgent'] ?? null);
  return (
    <>
      <header class="top">
        <span class="brand">bridge playground</span>
        <span>
          bot “{data.bot}” · helpdesk <strong>{data.helpdesk}</strong>
        </span>
        <a href={data.console.path} target="_blank" rel="noopener">
          Open the console
        </a>
        <span class="caption">token: {data.console.token}</span>
      </header>
      <main class="playground">
        <p class="intro">
          SANDBOX: simulators only, nothing reaches Blip or a real helpdesk. Write as the customer on the left, answer as the agent on the right.
          {timers !== 'null' ? ` Timers: ${timers}.` : ''}
        </p>
        <div class="sides">
          <Phone s={data} refresh={refresh} />
          <DeskView s={data} refresh={refresh} />
        </div>
      </main>
    </>
  );
}

render(<Playground />, document.getElementById('app')!);
