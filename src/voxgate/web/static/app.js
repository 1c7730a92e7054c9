// voxgate browser client: log in (session cookie), pick an agent, talk over the Atoms
// protocol with a single-use call token. No framework, no build step.

const RATES = [8000, 16000, 24000, 48000];
const CHUNK_MS = 20;
const PREBUFFER_MS = 60;
const SPEECH_DBFS = -45; // a microphone chunk louder than this counts as speech
const STATIC = "web/static/";

const $ = (id) => document.getElementById(id);

// Read by the end-to-end test (tests/e2e/test_browser.py); harmless otherwise.
const test = {
  state: "starting",
  playedSamples: 0,
  sentSamples: 0,
  sampleRate: null,
  transcript: [],
  latencies: [],
  events: [],
  errors: [],
};
window.voxgateTest = test;

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { "X-Voxgate-Web": "1" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data?.error?.message ?? response.statusText);
  }
  return data;
}

function showBanner(message) {
  const banner = $("banner");
  banner.textContent = message ?? "";
  banner.hidden = !message;
  if (message) test.errors.push(message);
}

// --- login ---------------------------------------------------------------------------------

let agents = [];
let call = null;

async function start() {
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
  $("agent").addEventListener("change", onAgentChange);
  $("talk").addEventListener("click", onTalk);
  $("say-form").addEventListener("submit", onSay);
  window.addEventListener("pagehide", () => call?.hangUp());
  try {
    showApp((await api("GET", "web/session")).data);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showLogin();
    else showBanner(`The server did not answer: ${error.message}`);
  }
}

function showLogin(message) {
  test.state = "login";
  $("app").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message ?? "";
  $("api-key").focus();
}

async function onLogin(event) {
  event.preventDefault();
  const input = $("api-key");
  try {
    const session = await api("POST", "web/session", { api_key: input.value.trim() });
    input.value = "";
    showApp(session.data);
  } catch (error) {
    $("login-error").textContent =
      error instanceof ApiError && error.status === 401
        ? "That key is unknown or revoked."
        : `Login failed: ${error.message}`;
  }
}

async function onLogout() {
  await call?.hangUp();
  await api("DELETE", "web/session").catch(() => {});
  showLogin();
}

async function showApp(session) {
  $("login").hidden = true;
  $("who-text").textContent = `${session.key_name} · ${session.tenant}`;
  $("who").hidden = false;
  $("app").hidden = false;
  try {
    agents = (await api("GET", "web/agents")).data;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showLogin();
    return showBanner(`Could not list agents: ${error.message}`);
  }
  const select = $("agent");
  select.replaceChildren(
    ...agents.map((agent) => new Option(agent.name === agent.id ? agent.id : `${agent.name} (${agent.id})`, agent.id)),
  );
  const remembered = localStorage.getItem("voxgate.agent");
  if (agents.some((agent) => agent.id === remembered)) select.value = remembered;
  onAgentChange();
  $("talk").disabled = agents.length === 0;
  if (agents.length === 0) showBanner("This key may not use any agent.");
  test.state = "ready";
}

function onAgentChange() {
  const agent = agents.find((a) => a.id === $("agent").value);
  $("agent-description").textContent = agent?.description ?? "";
  if (agent) localStorage.setItem("voxgate.agent", agent.id);
}

// --- the call ------------------------------------------------------------------------------

function setStatus(state, label) {
  const pill = $("status");
  pill.dataset.state = state;
  pill.textContent = label;
  test.state = state;
}

function setCallControls(live) {
  $("talk").classList.toggle("live", live);
  $("talk-label").textContent = live ? "Hang up" : "Start talking";
  $("agent").disabled = live;
  $("say").disabled = !live;
  $("say-button").disabled = !live;
}

async function onTalk() {
  if (call) return call.hangUp();
  showBanner(null);
  if (!navigator.mediaDevices?.getUserMedia) {
    return showBanner("The microphone needs a secure page: open voxgate over https or on localhost.");
  }
  $("talk").disabled = true;
  call = new Call($("agent").value);
  try {
    await call.start();
  } catch (error) {
    call.teardown();
    if (error instanceof ApiError && error.status === 401) showLogin("Your session ended.");
    else showBanner(`Could not start the call: ${error.message}`);
  } finally {
    $("talk").disabled = false;
  }
}

function onSay(event) {
  event.preventDefault();
  const input = $("say");
  const text = input.value.trim();
  if (text && call?.sendText(text)) input.value = "";
}

function base64FromBuffer(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function floatsFromBase64(text) {
  const binary = atob(text);
  const view = new DataView(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) view.setUint8(i, binary.charCodeAt(i));
  const out = new Float32Array(binary.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(2 * i, true) / 32768;
  return out;
}

class Call {
  constructor(agentId) {
    this.agentId = agentId;
    this.ws = null;
    this.context = null;
    this.stream = null;
    this.capture = null;
    this.playback = null;
    this.open = false;
    this.ended = false;
    this.rate = null;
    this.lastSpeechAt = null; // performance.now() of the last loud microphone chunk
    this.pendingTurn = null; // a user turn waiting for the agent's first audio
    this.agentPlaying = false;
    this.turns = 0;
    this.typedTurns = 0;
  }

  async start() {
    clearCallViews();
    setStatus("connecting", "Connecting…");
    setCallControls(true);
    this.context = new AudioContext({ latencyHint: "interactive" });
    await this.context.resume();
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
    await this.context.audioWorklet.addModule(`${STATIC}capture-worklet.js`);
    await this.context.audioWorklet.addModule(`${STATIC}playback-worklet.js`);
    // The token is asked for last: it is valid for seconds only.
    const token = (await api("POST", "web/call", { agent_id: this.agentId })).data;
    const rate = RATES.includes(this.context.sampleRate) ? this.context.sampleRate : 24000;
    const url = new URL("atoms/v1/agent/connect", document.baseURI);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.search = new URLSearchParams({ token: token.access_token, sample_rate: rate });
    this.ws = new WebSocket(url);
    this.ws.onmessage = (event) => this.onMessage(event.data);
    this.ws.onclose = (event) => this.onClose(event);
  }

  // The server's sample_rate is authoritative: the audio graph is built for it.
  startAudio(rate) {
    this.rate = rate;
    test.sampleRate = rate;
    const ctx = this.context;
    this.capture = new AudioWorkletNode(ctx, "voxgate-capture", {
      numberOfOutputs: 1,
      processorOptions: { targetRate: rate, chunkMs: CHUNK_MS },
    });
    this.capture.port.onmessage = ({ data }) => this.onMicChunk(data);
    ctx.createMediaStreamSource(this.stream).connect(this.capture);
    this.capture.connect(ctx.destination); // outputs silence; keeps the node pulled
    this.playback = new AudioWorkletNode(ctx, "voxgate-playback", {
      numberOfInputs: 0,
      outputChannelCount: [1],
      processorOptions: { sourceRate: rate, prebufferMs: PREBUFFER_MS },
    });
    this.playback.port.onmessage = ({ data }) => this.onPlayback(data);
    this.playback.connect(ctx.destination);
  }

  onMicChunk({ pcm, level }) {
    if (!this.open) return;
    this.send({ type: "input_audio_buffer.append", audio: base64FromBuffer(pcm) });
    test.sentSamples += pcm.byteLength / 2;
    $("meter").style.width = `${Math.max(0, Math.min(100, ((level + 60) / 60) * 100))}%`;
    // While the agent plays, what the microphone hears may be its echo.
    if (level > SPEECH_DBFS && !this.agentPlaying) this.lastSpeechAt = performance.now();
  }

  onPlayback(data) {
    if (data.type === "played") {
      test.playedSamples += data.samples;
    } else if (data.type === "started") {
      this.agentPlaying = true;
      if (this.pendingTurn) this.recordLatency(performance.now());
    } else if (data.type === "drained") {
      this.agentPlaying = false;
      if (this.open) setStatus("listening", "Listening");
    }
  }

  recordLatency(now) {
    const turn = this.pendingTurn;
    this.pendingTurn = null;
    const voice =
      !turn.typed && this.lastSpeechAt !== null && this.lastSpeechAt >= turn.startedAt
        ? now - this.lastSpeechAt
        : null;
    const row = { turn: ++this.turns, voiceToVoiceMs: voice, transcriptToAudioMs: now - turn.finalAt, typed: turn.typed };
    test.latencies.push(row);
    const ms = (value) => (value === null ? "—" : `${Math.round(value)} ms`);
    const tr = document.createElement("tr");
    for (const cell of [`${row.turn}${turn.typed ? " (typed)" : ""}`, ms(row.voiceToVoiceMs), ms(row.transcriptToAudioMs)]) {
      const td = document.createElement("td");
      td.textContent = cell;
      tr.append(td);
    }
    $("latency").append(tr);
    $("latency-empty").hidden = true;
  }

  onMessage(raw) {
    let event;
    try {
      event = JSON.parse(raw);
    } catch {
      return;
    }
    if (event.type !== "output_audio.delta") test.events.push(event.type);
    switch (event.type) {
      case "session.created":
        this.open = true;
        this.userTurnStartedAt = performance.now();
        this.startAudio(event.sample_rate);
        $("call-id").textContent = `Call ${event.call_id} · ${event.sample_rate} Hz`;
        setStatus("listening", "Listening");
        break;
      case "output_audio.delta":
        if (this.playback) {
          const samples = floatsFromBase64(event.audio);
          this.playback.port.postMessage({ type: "audio", samples }, [samples.buffer]);
        }
        break;
      case "transcript.delta":
        transcriptLine(event.role, event.text, false);
        break;
      case "transcript":
        transcriptLine(event.role, event.text, true);
        if (event.role === "user") {
          const typed = this.typedTurns > 0;
          if (typed) this.typedTurns--;
          this.pendingTurn = { finalAt: performance.now(), startedAt: this.userTurnStartedAt, typed };
        } else {
          this.userTurnStartedAt = performance.now();
        }
        break;
      case "agent_start_talking":
        setStatus("agent", "Agent speaking");
        break;
      case "agent_stop_talking":
        // The last audio is still playing: the status changes when it has drained.
        this.playback?.port.postMessage({ type: "end" });
        break;
      case "interruption":
        this.playback?.port.postMessage({ type: "flush" });
        this.agentPlaying = false;
        markInterrupted();
        setStatus("listening", "Listening");
        break;
      case "error":
        showBanner(`Server: ${event.message} (${event.code})`);
        break;
      case "session.closed":
        this.open = false;
        break;
    }
  }

  send(message) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  sendText(text) {
    if (!this.open || !this.send({ type: "input_text.send", text })) return false;
    this.typedTurns++; // the server echoes it as the user's transcript
    return true;
  }

  async hangUp() {
    if (this.ended) return;
    if (!this.send({ type: "session.close" })) return this.teardown();
    setStatus("closing", "Hanging up…");
    // The server answers session.closed and closes; do not wait forever.
    await new Promise((resolve) => {
      this.onClosed = resolve;
      setTimeout(resolve, 2000);
    });
    this.teardown();
  }

  onClose(event) {
    if (!this.ended && event.code !== 1000 && !test.errors.length) {
      showBanner(`The call ended (${event.code}${event.reason ? `: ${event.reason}` : ""}).`);
    }
    this.teardown();
    this.onClosed?.();
  }

  teardown() {
    if (this.ended) return;
    this.ended = true;
    this.open = false;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
    this.capture?.port.postMessage("stop");
    this.stream?.getTracks().forEach((track) => track.stop());
    this.context?.close().catch(() => {});
    $("meter").style.width = "0";
    setCallControls(false);
    setStatus("ended", "Call ended");
    if (call === this) call = null;
  }
}

// --- transcript ----------------------------------------------------------------------------

let openLines = {}; // role → the line being spoken (deltas replace its text)

function transcriptLine(role, text, final) {
  $("transcript-empty").hidden = true;
  let line = openLines[role];
  if (!line) {
    const li = document.createElement("li");
    li.className = `line ${role}`;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You" : "Agent";
    const body = document.createElement("span");
    body.className = "text";
    li.append(who, body);
    $("transcript").append(li);
    line = { li, body, entry: { role, text: "", final: false, interrupted: false } };
    test.transcript.push(line.entry);
    openLines[role] = line;
  }
  line.body.textContent = text;
  line.entry.text = text;
  line.li.classList.toggle("partial", !final);
  if (final) {
    line.entry.final = true;
    delete openLines[role];
  }
  const list = $("transcript");
  list.scrollTop = list.scrollHeight;
}

function clearCallViews() {
  openLines = {};
  $("transcript").replaceChildren();
  $("latency").replaceChildren();
  $("transcript-empty").hidden = false;
  $("latency-empty").hidden = false;
  $("call-id").textContent = "";
  Object.assign(test, { playedSamples: 0, sentSamples: 0, transcript: [], latencies: [], events: [], errors: [] });
}

function markInterrupted() {
  const line = openLines.assistant;
  const last = line ?? [...test.transcript].reverse().find((e) => e.role === "assistant");
  if (line) {
    line.li.classList.add("interrupted");
    line.entry.interrupted = true;
  } else if (last) {
    last.interrupted = true;
  }
}

start();
