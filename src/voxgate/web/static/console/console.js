// The live-agent console: queues on the left, the open chat on the right, all over one
// WebSocket (/console/ws, authenticated by the HttpOnly session cookie). The protocol is
// described in voxgate/server/console.py.

const $ = (id) => document.getElementById(id);

const TYPING_IDLE_MS = 2000; // typing "stopped" after this long without a keystroke
const USER_TYPING_TIMEOUT_MS = 8000; // hide "the user is typing" if no update comes

const state = {
  me: null,
  queues: [],
  queuesAt: 0, // performance.now() when the snapshot came
  chats: new Map(), // session_id → chat
  calls: [], // handed-over calls: summaries
  transcripts: new Map(), // conversation_id → transcript
  current: null, // a session_id, or "call:" + conversation_id
  connection: "connecting",
};

// For tests: what the page shows, without parsing the DOM.
const hook = {
  state: "connecting",
  me: null,
  queues: [],
  chats: {},
  calls: [],
  current: null,
  errors: [],
  sent: [],
};
window.voxgateConsole = hook;

// --- socket ----------------------------------------------------------------------------------

let ws = null;
let attempt = 0;
let pingTimer = null;

function socketUrl() {
  const url = new URL("console/ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.hash = "";
  return url.href;
}

function connect() {
  setConnection(attempt ? "reconnecting" : "connecting");
  let opened = false;
  ws = new WebSocket(socketUrl());
  ws.onopen = () => {
    opened = true;
    attempt = 0;
    setConnection("online");
    pingTimer = setInterval(() => send({ type: "ping" }), 25000);
  };
  ws.onmessage = (e) => {
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch {
      return;
    }
    handle(msg);
  };
  ws.onclose = async () => {
    clearInterval(pingTimer);
    ws = null;
    if (!opened) {
      // Refused: signed out or expired? Then show the sign-in page.
      try {
        const r = await fetch("console/session", { cache: "no-store" });
        if (r.status === 401) {
          location.reload();
          return;
        }
      } catch {
        // the server is away: retry below
      }
    }
    const delay = Math.min(30000, 1000 * 2 ** attempt) * (0.8 + Math.random() * 0.4);
    attempt += 1;
    setConnection("reconnecting", Math.round(delay / 1000));
    setTimeout(connect, delay);
  };
}

function send(msg) {
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    showError("Not connected to the server; try again in a moment.");
    return false;
  }
  ws.send(JSON.stringify(msg));
  if (msg.type !== "ping") hook.sent.push(msg.type);
  return true;
}

function setConnection(name, seconds) {
  state.connection = name;
  hook.state = name;
  const pill = $("connection");
  pill.dataset.state = name === "online" ? "listening" : "idle";
  pill.textContent =
    name === "online"
      ? "Online"
      : name === "reconnecting"
        ? `Reconnecting${seconds ? ` in ${seconds} s` : ""}…`
        : "Connecting…";
}

// --- server messages ---------------------------------------------------------------------------

function handle(msg) {
  switch (msg.type) {
    case "hello":
      state.me = msg.user;
      hook.me = msg.user;
      $("who-text").textContent = `${msg.user.display_name} (${msg.user.username})`;
      break;
    case "queues":
      state.queues = msg.queues;
      state.queuesAt = performance.now();
      hook.queues = msg.queues;
      renderQueues();
      break;
    case "chat":
      openChat(msg);
      break;
    case "event":
      chatEvent(msg.session_id, msg.event);
      break;
    case "calls":
      state.calls = msg.calls;
      hook.calls = msg.calls;
      render();
      break;
    case "transcript":
      state.transcripts.set(msg.conversation_id, msg);
      state.current = `call:${msg.conversation_id}`;
      publish();
      render();
      break;
    case "error":
      hook.errors.push(msg);
      showError(msg.message);
      break;
    default:
      break; // ok, pong
  }
}

// --- queues ------------------------------------------------------------------------------------

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return m >= 60
    ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`
    : `${m}:${String(s % 60).padStart(2, "0")}`;
}

function visitor(sessionId) {
  return `Visitor ${sessionId.slice(-4).toUpperCase()}`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderQueues() {
  const root = $("queues");
  root.replaceChildren();
  if (!state.queues.length) {
    root.append(el("p", "empty small", "You are in no queue."));
    return;
  }
  for (const queue of state.queues) {
    const box = el("div", "queue");
    box.dataset.queue = queue.name;
    const head = el("div", "queue-head");
    head.append(el("span", "queue-name", queue.name));
    const count = queue.waiting.length;
    head.append(
      el(
        "span",
        "queue-meta",
        `${count ? `${count} waiting` : "nobody waiting"} · ${queue.online} online`,
      ),
    );
    box.append(head);
    if (count) {
      const list = el("ol", "waiting-list");
      for (const w of queue.waiting) {
        const row = el("li", "waiting");
        row.dataset.sessionId = w.session_id;
        row.append(el("span", "position", String(w.position)));
        const info = el("div", "waiting-info");
        info.append(el("div", "waiting-who", visitor(w.session_id)));
        const meta = el("div", "waiting-meta");
        meta.append(el("span", "tag", w.platform));
        const waited = el("span", "waited", `waiting ${clock(w.waited_s)}`);
        waited.dataset.waited = String(w.waited_s);
        meta.append(waited);
        info.append(meta);
        if (w.reason) info.append(el("div", "waiting-reason", `“${w.reason}”`));
        row.append(info);
        const accept = el("button", "primary small accept", "Accept");
        accept.type = "button";
        accept.dataset.sessionId = w.session_id;
        accept.addEventListener("click", () => {
          accept.disabled = true;
          send({ type: "accept", session_id: w.session_id });
        });
        row.append(accept);
        list.append(row);
      }
      box.append(list);
    }
    root.append(box);
  }
}

// Waited times move on between snapshots.
setInterval(() => {
  const extra = (performance.now() - state.queuesAt) / 1000;
  for (const node of document.querySelectorAll(".waited")) {
    node.textContent = `waiting ${clock(Number(node.dataset.waited) + extra)}`;
  }
}, 1000);

// --- chats -------------------------------------------------------------------------------------

function openChat(msg) {
  const chat = {
    id: msg.session_id,
    platform: msg.platform,
    queue: msg.queue,
    startedAt: msg.started_at,
    ended: msg.ended,
    items: [],
    seen: new Set(),
    chunks: new Map(),
    botName: "Virtual agent",
    userTyping: false,
    unread: 0,
    transcript: msg.transcript,
  };
  state.chats.set(chat.id, chat);
  for (const event of msg.events) apply(chat, event);
  chat.ended = chat.ended || msg.ended;
  if (!state.current || !state.chats.has(state.current) || !chat.ended) {
    state.current = chat.id;
  }
  publish();
  render();
}

function chatEvent(sessionId, event) {
  const chat = state.chats.get(sessionId);
  if (!chat) return;
  const changed = apply(chat, event);
  if (changed && sessionId !== state.current) chat.unread += 1;
  publish();
  render();
}

function short(type) {
  return type.startsWith("EVENT_TYPE_") ? type.slice(11) : type;
}

let typingTimers = new Map();

// Adds one event to a chat's items; true when something new is shown.
function apply(chat, event) {
  if (event.id) {
    if (chat.seen.has(event.id)) return false;
    chat.seen.add(event.id);
  }
  const p = event.payload || {};
  const at = event.timestamp;
  const note = (text, kind) => chat.items.push({ kind: "note", text, tone: kind || "" });
  switch (short(event.type)) {
    case "USER_MESSAGE":
      chat.userTyping = false;
      chat.items.push({ kind: "msg", who: "customer", name: "User", text: p.text, at });
      return true;
    case "POLY_AGENT_MESSAGE":
      chat.items.push({
        kind: "msg",
        who: "bot",
        name: chat.botName,
        text: p.text,
        at,
        suggestions: p.response_suggestions || [],
        attachments: p.attachments || [],
      });
      return true;
    case "POLY_AGENT_MESSAGE_CHUNK": {
      let item = chat.chunks.get(p.message_id);
      if (!item) {
        item = { kind: "msg", who: "bot", name: chat.botName, text: "", at, parts: {} };
        chat.chunks.set(p.message_id, item);
        chat.items.push(item);
      }
      item.parts[p.chunk_index] = p.text;
      item.text = Object.keys(item.parts)
        .sort((a, b) => a - b)
        .map((k) => item.parts[k])
        .join("");
      if (p.is_complete) {
        item.suggestions = p.response_suggestions || [];
        item.attachments = p.attachments || [];
      }
      return Boolean(p.is_complete);
    }
    case "LIVE_AGENT_MESSAGE": {
      const mine = state.me && p.agent_id === state.me.id;
      chat.items.push({
        kind: "msg",
        who: mine ? "me" : "live",
        name: mine ? "You" : "Live agent",
        text: p.text,
        at,
        suggestions: p.response_suggestions || [],
      });
      return true;
    }
    case "POLY_AGENT_JOINED":
      chat.botName = p.agent_name || chat.botName;
      note(`${chat.botName} (virtual agent) joined`);
      return false;
    case "POLY_AGENT_TRIGGERED_HANDOFF":
      note("The virtual agent handed the chat over");
      return false;
    case "HANDOFF_ACCEPTED":
      note(`Waiting in queue ${p.queue_name || ""}`.trim());
      return false;
    case "HANDOFF_FAILED":
      note("Nobody was online: the virtual agent took it back", "warn");
      return false;
    case "HANDOFF_TIMEOUT":
      note("Nobody accepted in time: the virtual agent took it back", "warn");
      return false;
    case "LIVE_AGENT_JOINED": {
      const agent = p.agent || {};
      const mine = state.me && agent.id === state.me.id;
      note(mine ? "You joined the chat" : `${agent.name || "A live agent"} joined the chat`);
      return true;
    }
    case "LIVE_AGENT_LEFT":
      note(state.me && p.agent_id === state.me.id ? "You left the chat" : "The live agent left");
      return false;
    case "SESSION_END": {
      const reasons = {
        REASON_USER_END: "the user ended it",
        REASON_USER_ABANDONED: "the user went away",
        REASON_NATURAL_END: "closed",
      };
      chat.ended = true;
      chat.userTyping = false;
      note(`Chat ended: ${reasons[p.reason] || p.reason || "closed"}`, "end");
      return true;
    }
    case "USER_TYPING": {
      chat.userTyping = p.state === "TYPING_STATE_STARTED";
      clearTimeout(typingTimers.get(chat.id));
      if (chat.userTyping) {
        typingTimers.set(
          chat.id,
          setTimeout(() => {
            chat.userTyping = false;
            publish();
            render();
          }, USER_TYPING_TIMEOUT_MS),
        );
      }
      return false;
    }
    default:
      return false; // SESSION_START, THINKING, queue status, our own typing echo
  }
}

function publish() {
  const chats = {};
  for (const chat of state.chats.values()) {
    chats[chat.id] = {
      ended: chat.ended,
      userTyping: chat.userTyping,
      messages: chat.items.filter((i) => i.kind === "msg").map((i) => ({ who: i.who, text: i.text })),
      notes: chat.items.filter((i) => i.kind === "note").map((i) => i.text),
    };
  }
  hook.chats = chats;
  hook.current = state.current;
}

// --- rendering ---------------------------------------------------------------------------------

function safeUrl(value) {
  try {
    const url = new URL(value, location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

function renderItem(item) {
  if (item.kind === "note") {
    const li = el("li", `note ${item.tone}`.trim(), item.text);
    return li;
  }
  const li = el("li", `line ${item.who}`);
  const who = el("span", "from", item.name);
  if (item.at) {
    const time = new Date(item.at);
    if (!Number.isNaN(time.getTime())) {
      who.append(
        el("span", "time", ` · ${time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`),
      );
    }
  }
  li.append(who);
  li.append(el("span", "text", item.text || "…"));
  const extras = el("div", "extras");
  for (const a of item.attachments || []) {
    const href = safeUrl(a.content_url);
    if (!href) continue;
    const link = el("a", "attachment", a.title || href);
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    extras.append(link);
  }
  for (const s of item.suggestions || []) extras.append(el("span", "chip", s.message_text));
  if (extras.childElementCount) li.append(extras);
  return li;
}

function render() {
  // The list of chats.
  const list = $("chat-list");
  list.replaceChildren();
  for (const chat of state.chats.values()) {
    const li = el("li", "chat-item");
    li.dataset.sessionId = chat.id;
    if (chat.id === state.current) li.classList.add("current");
    const button = el("button", "chat-tab");
    button.type = "button";
    button.append(el("span", "chat-tab-name", visitor(chat.id)));
    const status = el("span", `chat-tab-status ${chat.ended ? "ended" : "live"}`);
    status.textContent = chat.ended ? "ended" : chat.userTyping ? "typing…" : "live";
    button.append(status);
    if (chat.unread) button.append(el("span", "badge", String(chat.unread)));
    button.addEventListener("click", () => {
      state.current = chat.id;
      chat.unread = 0;
      publish();
      render();
    });
    li.append(button);
    if (chat.ended) {
      const close = el("button", "link small close", "Close");
      close.type = "button";
      close.title = "Remove from the list";
      close.addEventListener("click", () => {
        state.chats.delete(chat.id);
        if (state.current === chat.id) state.current = [...state.chats.keys()].pop() || null;
        publish();
        render();
      });
      li.append(close);
    }
    list.append(li);
  }
  $("chats-empty").hidden = state.chats.size > 0;

  // Calls the agent handed over (read-only transcripts).
  const calls = $("call-list");
  calls.replaceChildren();
  for (const call of state.calls) {
    const li = el("li", "chat-item");
    li.dataset.conversationId = call.conversation_id;
    if (state.current === `call:${call.conversation_id}`) li.classList.add("current");
    const button = el("button", "chat-tab");
    button.type = "button";
    const name = el("span", "chat-tab-name", `${call.channel === "voice" ? "Voice call" : "Chat"} · ${call.agent_id}`);
    button.append(name);
    button.append(el("span", "chat-tab-status", shortTime(call.ended_at || call.started_at)));
    button.addEventListener("click", () => send({ type: "transcript", conversation_id: call.conversation_id }));
    li.append(button);
    calls.append(li);
  }
  $("calls-empty").hidden = state.calls.length > 0;

  if (state.current && state.current.startsWith("call:")) {
    renderCall(state.transcripts.get(state.current.slice(5)));
    return;
  }

  // The open chat.
  const chat = state.current ? state.chats.get(state.current) : null;
  $("chat-empty").hidden = Boolean(chat);
  $("chat-view").hidden = !chat;
  if (!chat) return;
  chat.unread = 0;
  $("chat-title").textContent = visitor(chat.id);
  const started = new Date(chat.startedAt);
  $("chat-meta").textContent = [
    chat.platform,
    chat.queue ? `queue ${chat.queue}` : null,
    Number.isNaN(started.getTime()) ? null : `started ${started.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`,
    chat.id,
  ]
    .filter(Boolean)
    .join(" · ");
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(...chat.items.map(renderItem));
  if (atBottom || box.dataset.chat !== chat.id) box.scrollTop = box.scrollHeight;
  box.dataset.chat = chat.id;
  $("user-typing").hidden = !chat.userTyping || chat.ended;
  $("composer").hidden = chat.ended;
  $("ended-note").hidden = !chat.ended;
  $("ended-note").textContent = "This chat has ended.";
  $("end-chat").hidden = chat.ended;
}

function shortTime(iso) {
  const time = new Date(iso);
  return Number.isNaN(time.getTime())
    ? ""
    : time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// A handed-over call: its transcript, read-only.
function renderCall(call) {
  $("chat-empty").hidden = Boolean(call);
  $("chat-view").hidden = !call;
  if (!call) return;
  $("chat-title").textContent = `${call.channel === "voice" ? "Voice call" : "Chat"} with ${call.agent_id}`;
  $("chat-meta").textContent = [
    `handed over to queue ${call.queue}`,
    `${shortTime(call.started_at)}–${shortTime(call.ended_at)}`,
    call.conversation_id,
  ].join(" · ");
  const items = call.turns.map((t) => ({
    kind: "msg",
    who: t.role === "user" ? "customer" : "bot",
    name: t.role === "user" ? "Caller" : call.agent_id,
    text: t.text,
    at: t.at,
  }));
  items.push({ kind: "note", text: call.reason ? `Handed over: “${call.reason}”` : "Handed over", tone: "end" });
  const box = $("messages");
  box.replaceChildren(...items.map(renderItem));
  box.scrollTop = box.scrollHeight;
  box.dataset.chat = `call:${call.conversation_id}`;
  $("user-typing").hidden = true;
  $("composer").hidden = true;
  $("end-chat").hidden = true;
  $("ended-note").hidden = false;
  $("ended-note").textContent = "A transcript, read-only: the caller was handed over on the phone side.";
}

// --- composing ---------------------------------------------------------------------------------

let typingSent = null; // the session we told "started"
let typingTimer = null;

function stopTyping() {
  clearTimeout(typingTimer);
  if (typingSent) {
    send({ type: "typing", session_id: typingSent, state: "stopped" });
    typingSent = null;
  }
}

$("text").addEventListener("input", () => {
  const chat = state.current && state.chats.get(state.current);
  if (!chat || chat.ended) return;
  if (!$("text").value.trim()) {
    stopTyping();
    return;
  }
  if (typingSent !== chat.id) {
    stopTyping();
    if (send({ type: "typing", session_id: chat.id, state: "started" })) typingSent = chat.id;
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
});

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const chat = state.current && state.chats.get(state.current);
  const text = $("text").value.trim();
  if (!chat || chat.ended || !text) return;
  const suggestions = $("suggestions")
    .value.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  stopTyping();
  if (send({ type: "message", session_id: chat.id, text, suggestions })) {
    $("text").value = "";
    $("suggestions").value = "";
  }
  $("text").focus();
});

$("end-chat").addEventListener("click", () => {
  const chat = state.current && state.chats.get(state.current);
  if (!chat || chat.ended) return;
  stopTyping();
  send({ type: "end", session_id: chat.id });
});

$("refresh-calls").addEventListener("click", () => send({ type: "calls" }));

$("logout").addEventListener("click", async () => {
  try {
    await fetch("console/logout", { method: "POST", headers: { "X-Voxgate-Console": "1" } });
  } finally {
    location.reload();
  }
});

let bannerTimer = null;

function showError(text) {
  const banner = $("banner");
  banner.textContent = text;
  banner.hidden = false;
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => {
    banner.hidden = true;
  }, 6000);
  // A refused accept: let the button be pressed again once the queue says otherwise.
  for (const b of document.querySelectorAll("button.accept")) b.disabled = false;
}

render();
connect();
