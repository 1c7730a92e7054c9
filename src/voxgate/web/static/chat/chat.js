// The web chat widget: the messaging API as the "web" platform, same origin.
//
// Open /chat#token=vmc_… (or ?token=, or <html data-token>). It trades the connector token
// for an access token (X-Host: this page's host name), opens a streaming session, and
// talks over /ws. session_id, the cursor and the transcript live in localStorage, so a
// reload continues the same chat from where it was; a lost socket reconnects with backoff
// (1 s → 30 s) and the last cursor; events are de-duplicated by id and sequence.

const $ = (id) => document.getElementById(id);

const hash = new URLSearchParams(location.hash.slice(1));
const query = new URLSearchParams(location.search);
const TOKEN = hash.get("token") || query.get("token") || document.documentElement.dataset.token || "";
const STORE_KEY = `voxgate-chat:${TOKEN.slice(0, 16)}`;
const SESSION_IDLE_MS = 9 * 60 * 1000; // the server ends a session after 10 idle minutes
const HEARTBEAT_MS = 30000;
const TYPING_IDLE_MS = 3000;
const MAX_ITEMS = 300;
const MAX_RECONNECTS_SHOWN = 5; // then offer a new chat (and keep trying)

const hook = {
  state: "connecting",
  sessionId: null,
  cursor: 0,
  types: [],
  messages: [],
  reconnects: 0,
};
window.voxgateChat = hook;

let chat = null; // what is kept in localStorage
let access = null; // { token, expiresAt }
let ws = null;
let attempt = 0;
let failures = 0;
let heartbeat = null;
let reconnectTimer = null;
let typing = null; // { who, timer } while someone on the other side types
const seen = new Set();

function fresh() {
  return {
    sessionId: null,
    cursor: 0,
    joined: false,
    items: [],
    title: "Chat",
    live: null,
    status: null,
    suggestions: [],
    ended: false,
    lastActivity: Date.now(),
  };
}

function load() {
  try {
    const data = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
    if (!data || typeof data.sessionId !== "string" || !Array.isArray(data.items)) return null;
    if (data.ended || Date.now() - Number(data.lastActivity || 0) > SESSION_IDLE_MS) return null;
    return { ...fresh(), ...data };
  } catch {
    return null;
  }
}

let saveTimer = null;

function save() {
  clearTimeout(saveTimer);
  saveTimer = null;
  try {
    if (chat.ended || !chat.sessionId) {
      localStorage.removeItem(STORE_KEY);
      return;
    }
    const items = chat.items.slice(-MAX_ITEMS);
    localStorage.setItem(STORE_KEY, JSON.stringify({ ...chat, items }));
  } catch {
    // storage full or disabled: the chat goes on, a reload starts anew
  }
}

function saveSoon() {
  if (!saveTimer) saveTimer = setTimeout(save, 200);
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// --- REST ------------------------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function post(path, headers, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
    cache: "no-store",
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    // not JSON
  }
  if (!response.ok) {
    const message = data?.error?.message || `${response.status} ${response.statusText}`;
    throw new HttpError(response.status, message);
  }
  return data;
}

async function ensureAccess() {
  if (access && access.expiresAt - Date.now() > 60000) return;
  const data = await post("api/v1/access-token", { "X-Token": TOKEN, "X-Host": location.hostname }, {});
  access = { token: data.access_token, expiresAt: Date.now() + data.expires_in * 1000 };
}

async function createSession() {
  const data = await post(
    "api/v1/sessions",
    { Authorization: `Bearer ${access.token}` },
    { platform: "web", streaming_enabled: true, device_type: "browser" },
  );
  return data.session_id;
}

// --- the socket --------------------------------------------------------------------------------

async function start() {
  if (!TOKEN) {
    fatal("This chat needs a connector token: open it as /chat#token=vmc_…");
    return;
  }
  try {
    await ensureAccess();
    if (!chat.sessionId) {
      chat.sessionId = await createSession();
      chat.joined = false;
      chat.cursor = 0;
      save();
    }
  } catch (err) {
    if (err instanceof HttpError && err.status < 500 && err.status !== 429) {
      fatal(`The chat could not start: ${err.message}`);
      return;
    }
    scheduleReconnect(start);
    return;
  }
  connect();
}

function connect() {
  clearTimeout(reconnectTimer);
  const url = new URL("ws", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = new URLSearchParams({
    session_id: chat.sessionId,
    access_token: access.token,
    cursor: String(chat.cursor),
  }).toString();
  url.hash = "";
  setConnection(attempt ? "reconnecting" : "connecting");
  const socket = new WebSocket(url.href);
  ws = socket;
  let opened = false;
  socket.onopen = () => {
    opened = true;
    attempt = 0;
    failures = 0;
    setConnection("online");
    if (!chat.joined) {
      sendEvent("REQUEST_POLY_AGENT_JOIN");
      chat.joined = true;
      save();
    }
    flushOutbox();
    heartbeat = setInterval(() => sendEvent("HEARTBEAT"), HEARTBEAT_MS);
  };
  socket.onmessage = (e) => receive(e.data);
  socket.onclose = () => {
    clearInterval(heartbeat);
    if (ws === socket) ws = null;
    if (chat.ended || socket.abandoned) return;
    if (!opened) {
      failures += 1;
      access = null; // perhaps expired: fetch another before the next try
    }
    if (failures >= MAX_RECONNECTS_SHOWN) showLost();
    scheduleReconnect(async () => {
      try {
        await ensureAccess();
      } catch (err) {
        if (err instanceof HttpError && err.status === 401) {
          fatal(`The chat could not continue: ${err.message}`);
          return;
        }
        scheduleReconnect(connect);
        return;
      }
      connect();
    });
  };
}

function scheduleReconnect(then) {
  const delay = Math.min(30000, 1000 * 2 ** attempt * (1 + Math.random() * 0.25));
  attempt += 1;
  hook.reconnects += 1;
  setConnection("reconnecting", delay);
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(then, delay);
}

function sendEvent(type, payload = {}, clientEventId = null) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  const msg = { type: `EVENT_TYPE_${type}`, payload };
  if (clientEventId) msg.metadata = { custom: { client_event_id: clientEventId } };
  ws.send(JSON.stringify(msg));
  chat.lastActivity = Date.now();
  saveSoon();
  return true;
}

function flushOutbox() {
  for (const item of chat.items) {
    if (item.pending && !item.sent && sendEvent("USER_MESSAGE", { text: item.text }, item.clientId)) {
      item.sent = true;
    }
  }
}

// --- events ------------------------------------------------------------------------------------

function short(type) {
  return typeof type === "string" && type.startsWith("EVENT_TYPE_") ? type.slice(11) : type;
}

function receive(data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return;
  }
  const events = short(msg.type) === "EVENT_BATCH" ? msg.payload?.events || [] : [msg];
  for (const event of events) apply(event);
  chat.lastActivity = Date.now();
  render();
  if (chat.ended) save();
  else saveSoon();
}

function note(text, tone = "") {
  chat.items.push({ kind: "note", text, tone });
}

function agentMessage(from, p, name) {
  return {
    kind: "msg",
    from,
    id: p.message_id,
    name,
    text: p.text || "",
    complete: true,
    suggestions: (p.response_suggestions || []).map((s) => s.message_text).filter(Boolean),
    attachments: p.attachments || [],
  };
}

function setTyping(who, seconds) {
  clearTimeout(typing?.timer);
  typing = {
    who,
    timer: setTimeout(() => {
      typing = null;
      render();
    }, seconds * 1000),
  };
}

function stopTypingShown() {
  clearTimeout(typing?.timer);
  typing = null;
}

function apply(event) {
  if (!event || typeof event !== "object") return;
  if (event.id) {
    if (seen.has(event.id)) return;
    seen.add(event.id);
  }
  if (typeof event.sequence === "number") {
    if (event.sequence <= chat.cursor) return;
    chat.cursor = event.sequence;
  }
  const type = short(event.type);
  hook.types.push(type);
  const p = event.payload || {};
  switch (type) {
    case "POLY_AGENT_JOINED":
      chat.title = p.agent_name || chat.title;
      chat.live = null;
      break;
    case "POLY_AGENT_THINKING":
      setTyping(chat.title, 20);
      break;
    case "POLY_AGENT_MESSAGE":
      stopTypingShown();
      chat.items.push(agentMessage("agent", p, chat.title));
      chat.suggestions = chat.items.at(-1).suggestions;
      break;
    case "POLY_AGENT_MESSAGE_CHUNK": {
      stopTypingShown();
      let item = chat.items.find((i) => i.kind === "msg" && i.id === p.message_id);
      if (!item) {
        item = { ...agentMessage("agent", { ...p, text: "" }, chat.title), complete: false, parts: {} };
        chat.items.push(item);
      }
      if (item.complete) break;
      item.parts[p.chunk_index] = p.text || "";
      item.text = Object.keys(item.parts)
        .sort((a, b) => a - b)
        .map((k) => item.parts[k])
        .join("");
      if (p.is_complete) {
        const done = agentMessage("agent", p, chat.title);
        item.complete = true;
        item.suggestions = done.suggestions;
        item.attachments = done.attachments;
        delete item.parts;
        chat.suggestions = item.suggestions;
      }
      break;
    }
    case "USER_MESSAGE": {
      const clientId = event.metadata?.custom?.client_event_id;
      const mine = clientId && chat.items.find((i) => i.clientId === clientId);
      if (mine) {
        mine.pending = false;
        mine.id = p.message_id;
      } else {
        chat.items.push({ kind: "msg", from: "user", id: p.message_id, text: p.text || "" });
      }
      chat.suggestions = [];
      break;
    }
    case "POLY_AGENT_TRIGGERED_HANDOFF":
      chat.status = "Connecting you to a person…";
      break;
    case "HANDOFF_ACCEPTED":
      chat.status = "Waiting for the next available person…";
      break;
    case "HANDOFF_QUEUE_STATUS": {
      const parts = [];
      if (p.position_in_queue) parts.push(`You're number ${p.position_in_queue} in line`);
      if (p.estimated_wait_seconds) parts.push(duration(p.estimated_wait_seconds));
      chat.status = parts.length ? parts.join(" · ") : "Waiting for the next available person…";
      break;
    }
    case "HANDOFF_FAILED":
    case "HANDOFF_TIMEOUT":
      chat.status = null;
      break;
    case "CLIENT_HANDOFF_REQUIRED":
      note("This conversation needs to continue with our team elsewhere.");
      break;
    case "LIVE_AGENT_JOINED": {
      const name = p.agent?.name || "An agent";
      chat.live = { id: p.agent?.id || "", name };
      chat.status = null;
      note(`${name} joined the chat`);
      break;
    }
    case "LIVE_AGENT_TYPING":
      if (p.state === "TYPING_STATE_STARTED") setTyping(chat.live?.name || "Agent", 12);
      else stopTypingShown();
      break;
    case "LIVE_AGENT_MESSAGE":
      stopTypingShown();
      chat.items.push(agentMessage("live", p, chat.live?.name || "Agent"));
      chat.suggestions = chat.items.at(-1).suggestions;
      break;
    case "LIVE_AGENT_LEFT":
      stopTypingShown();
      note(`${chat.live?.name || "The agent"} left the chat`);
      chat.live = null;
      break;
    case "SESSION_END":
      stopTypingShown();
      chat.ended = true;
      chat.status = null;
      chat.suggestions = [];
      note("Chat ended", "end");
      if (ws) {
        ws.abandoned = true;
        ws.close();
      }
      setConnection("ended");
      break;
    case "SYSTEM_MESSAGE": {
      const level = String(p.level || "");
      const tone = level.endsWith("ERROR") ? "error" : level.endsWith("WARNING") ? "warn" : "";
      if (p.message) note(p.message, tone);
      break;
    }
    default:
      break; // SESSION_START, HEARTBEAT, POLY_AGENT_LEFT, LANGUAGE_CHANGED
  }
}

function duration(seconds) {
  if (seconds < 60) return "less than a minute";
  const minutes = Math.round(seconds / 60);
  return minutes === 1 ? "about 1 minute" : `about ${minutes} minutes`;
}

// --- what the visitor does -----------------------------------------------------------------------

let typingSent = false;
let typingTimer = null;

function stopTyping() {
  clearTimeout(typingTimer);
  if (typingSent) sendEvent("USER_TYPING", { state: "TYPING_STATE_STOPPED" });
  typingSent = false;
}

function sendText(text) {
  const clean = text.trim();
  if (!clean || chat.ended) return;
  stopTyping();
  const item = { kind: "msg", from: "user", text: clean, pending: true, sent: false, clientId: randomId() };
  chat.items.push(item);
  chat.suggestions = [];
  item.sent = sendEvent("USER_MESSAGE", { text: clean }, item.clientId);
  render();
  save();
}

$("text").addEventListener("input", () => {
  if (!$("text").value.trim()) {
    stopTyping();
    return;
  }
  if (!typingSent) typingSent = sendEvent("USER_TYPING", { state: "TYPING_STATE_STARTED" });
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
});

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("text").value;
  $("text").value = "";
  sendText(text);
  $("text").focus();
});

$("end").addEventListener("click", () => {
  stopTyping();
  sendEvent("USER_END_SESSION");
});

$("restart").addEventListener("click", () => {
  if (ws) {
    ws.abandoned = true;
    ws.close();
  }
  clearTimeout(reconnectTimer);
  localStorage.removeItem(STORE_KEY);
  seen.clear();
  stopTypingShown();
  chat = fresh();
  attempt = 0;
  failures = 0;
  hook.types = [];
  render();
  start();
});

// --- rendering ---------------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function safeUrl(value, image = false) {
  if (typeof value !== "string" || !value) return null;
  if (image && /^data:image\/(png|jpeg|gif|webp|svg\+xml)[;,]/i.test(value)) return value;
  try {
    const url = new URL(value, location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

function renderAttachment(a) {
  const href = safeUrl(a.content_url, true);
  const preview = safeUrl(a.preview_image_url, true);
  const image = String(a.content_type || "").endsWith("IMAGE");
  if (!href && !preview) return null;
  const link = el("a", image ? "att att-image" : "att att-link");
  if (href && !href.startsWith("data:")) {
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  if (image || preview) {
    const img = el("img");
    img.src = image ? preview || href : preview;
    img.alt = a.title || "";
    img.loading = "lazy";
    link.append(img);
  }
  if (!image || a.title) {
    const body = el("span", "att-body");
    body.append(el("span", "att-title", a.title || href));
    if (!image) body.append(el("span", "att-cta", a.call_to_action_text || "Open link"));
    link.append(body);
  }
  return link;
}

function renderItem(item) {
  if (item.kind === "note") return el("li", `note ${item.tone || ""}`.trim(), item.text);
  const li = el("li", `msg ${item.from}`);
  if (item.pending) li.classList.add("pending");
  if (item.from !== "user") li.append(el("span", "who", item.name || ""));
  const bubble = el("div", "bubble", item.text);
  if (!item.complete && item.from !== "user") bubble.classList.add("streaming");
  li.append(bubble);
  const attachments = (item.attachments || []).map(renderAttachment).filter(Boolean);
  if (attachments.length) {
    const box = el("div", "attachments");
    box.append(...attachments);
    li.append(box);
  }
  return li;
}

function render() {
  $("title").textContent = chat.live ? chat.live.name : chat.title;
  $("avatar").textContent = ($("title").textContent.trim()[0] || "?").toUpperCase();
  $("avatar").classList.toggle("live", Boolean(chat.live));
  $("widget").classList.toggle("is-ended", chat.ended);
  if (hook.state !== "error") {
    $("subtitle").textContent = connectionLabel();
    $("dot").dataset.state = connection.name;
  }

  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  box.replaceChildren(...chat.items.map(renderItem));
  if (atBottom) box.scrollTop = box.scrollHeight;

  $("status").hidden = !chat.status;
  $("status").textContent = chat.status || "";

  $("typing").hidden = !typing || chat.ended;
  $("typing-who").textContent = typing ? `${typing.who} is typing…` : "";

  const bar = $("suggestions");
  bar.replaceChildren();
  if (!chat.ended) {
    for (const text of chat.suggestions || []) {
      const button = el("button", "suggestion", text);
      button.type = "button";
      button.addEventListener("click", () => sendText(text));
      bar.append(button);
    }
  }
  bar.hidden = !bar.childElementCount;

  const usable = !chat.ended && Boolean(chat.sessionId);
  $("text").disabled = !usable;
  $("send").disabled = !usable;
  $("composer").hidden = chat.ended;
  $("ended").hidden = !chat.ended && !lost;
  $("end").hidden = chat.ended || hook.state !== "online";

  hook.sessionId = chat.sessionId;
  hook.cursor = chat.cursor;
  hook.messages = chat.items
    .filter((i) => i.kind === "msg")
    .map((i) => ({
      from: i.from,
      text: i.text,
      complete: i.complete !== false,
      pending: Boolean(i.pending),
      suggestions: i.suggestions || [],
      attachments: (i.attachments || []).length,
    }));
}

let lost = false;

function showLost() {
  if (lost) return;
  lost = true;
  $("ended").querySelector("span").textContent = "We can't reach this chat any more.";
  render();
}

let connection = { name: "connecting", delayMs: 0 };

function setConnection(name, delayMs = 0) {
  hook.state = name;
  connection = { name, delayMs };
  if (name === "online" && lost) {
    lost = false;
    $("ended").querySelector("span").textContent = "This chat has ended.";
  }
  if (chat) render();
}

function connectionLabel() {
  switch (connection.name) {
    case "online":
      return chat.live ? "Live agent · online" : "Virtual assistant · online";
    case "reconnecting":
      return connection.delayMs
        ? `Reconnecting in ${Math.max(1, Math.round(connection.delayMs / 1000))} s…`
        : "Reconnecting…";
    case "ended":
      return "Chat ended";
    default:
      return "Connecting…";
  }
}

function fatal(message) {
  hook.state = "error";
  $("fatal").textContent = message;
  $("fatal").hidden = false;
  $("subtitle").textContent = "Unavailable";
  $("dot").dataset.state = "error";
  $("composer").hidden = true;
}

chat = load() || fresh();
render();
start();
