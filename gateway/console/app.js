// The streamgate console: plain JavaScript, no build step, nothing from another origin.
//
// Credentials: with keys configured the console asks for a key once and keeps it in this tab's
// sessionStorage. Every fetch sends it as the x-goog-api-key header. The lifecycle feed is read
// with fetch (an EventSource cannot send a header); a stream is watched with an EventSource whose
// URL carries a short-lived stream token minted for that stream, never the key.
const KEY_STORAGE = "streamgate.key";
const TOKEN_TTL = "10m";
const RECONNECT_MS = 1000;
const MAX_ROWS = 500;

const $ = (sel) => document.querySelector(sel);

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  status: null, // GET /v1/status
  streams: new Map(), // id -> stream info from the feed
  watch: null, // the stream being watched
  keyWaiters: [],
};

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// ---- keys ----------------------------------------------------------------------------------

function authHeaders(extra = {}) {
  const h = { ...extra };
  if (state.key) h["x-goog-api-key"] = state.key;
  return h;
}

// askKey shows the key dialog and resolves once a key was entered.
function askKey(reason) {
  const dialog = $("#key-dialog");
  $("#key-reason").textContent = reason;
  if (!dialog.open) dialog.showModal();
  $("#key-input").focus();
  return new Promise((resolve) => state.keyWaiters.push(resolve));
}

function setupKeyDialog() {
  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.key = $("#key-input").value.trim();
    $("#key-input").value = "";
    sessionStorage.setItem(KEY_STORAGE, state.key);
    $("#key-dialog").close();
    $("#forget-key").hidden = false;
    for (const resolve of state.keyWaiters.splice(0)) resolve();
  });
  $("#key-dialog").addEventListener("cancel", (e) => e.preventDefault());
  $("#forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    location.reload();
  });
}

// api calls the gateway with the key; a 401 asks for a (new) key and tries again.
async function api(method, path, body) {
  for (;;) {
    const init = { method, headers: authHeaders(body === undefined ? {} : { "Content-Type": "application/json" }) };
    if (body !== undefined) init.body = JSON.stringify(body);
    const resp = await fetch(path, init);
    const text = await resp.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: reported below
    }
    if (resp.status === 401) {
      await askKey(state.key ? "That key was refused: " + errorMessage(json, text) : "This gateway needs a client key.");
      continue;
    }
    if (!resp.ok) throw new APIError(resp.status, errorMessage(json, text));
    return json;
  }
}

function errorMessage(json, text) {
  return (json && json.error && json.error.message) || text || "no answer";
}

// ---- server-sent events over fetch ---------------------------------------------------------

// FetchEvents reads an event stream with fetch, so that it can send the key header, and
// reconnects like an EventSource: after a dropped connection it asks again with Last-Event-ID.
class FetchEvents {
  constructor(url, { onEvent, onOpen, onDrop, onReset }) {
    this.url = url;
    this.on = { onEvent, onOpen, onDrop, onReset };
    this.lastId = null;
    this.abort = new AbortController();
    this.run();
  }

  close() {
    this.abort.abort();
  }

  async run() {
    let opened = false;
    while (!this.abort.signal.aborted) {
      const headers = authHeaders({ Accept: "text/event-stream" });
      if (this.lastId !== null) headers["Last-Event-ID"] = this.lastId;
      try {
        const resp = await fetch(this.url, { headers, signal: this.abort.signal, cache: "no-store" });
        if (resp.status === 401) {
          await askKey("This gateway needs a client key.");
          continue;
        }
        if (resp.status === 410) {
          // The position is no longer kept: start over from the current state.
          this.lastId = null;
          this.on.onReset?.();
          continue;
        }
        if (!resp.ok) throw new APIError(resp.status, errorMessage(null, await resp.text()));
        this.on.onOpen?.(opened);
        opened = true;
        const ended = await this.read(resp.body);
        if (ended) return;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        console.warn("event stream", this.url, "dropped:", err.message);
      }
      if (this.abort.signal.aborted) return;
      this.on.onDrop?.();
      await sleep(RECONNECT_MS);
    }
  }

  // read dispatches the events of one response; it returns true when onEvent asked to stop.
  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    let ev = { type: "", data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buf += value;
      let nl;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (ev.id !== null) this.lastId = ev.id;
          if (ev.data.length > 0) {
            const stop = this.on.onEvent({ type: ev.type || "message", data: ev.data.join("\n"), lastEventId: this.lastId ?? "" });
            if (stop) {
              this.close();
              return true;
            }
          }
          ev = { type: "", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let v = colon < 0 ? "" : line.slice(colon + 1);
        if (v.startsWith(" ")) v = v.slice(1);
        if (field === "data") ev.data.push(v);
        else if (field === "event") ev.type = v;
        else if (field === "id" && !v.includes("\0")) ev.id = v;
      }
    }
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- views ---------------------------------------------------------------------------------

const VIEWS = ["streams", "watch", "try", "health"];

function route() {
  const hash = location.hash.slice(1);
  const [view, ...rest] = hash.split("/");
  const name = VIEWS.includes(view) ? view : "streams";
  for (const v of VIEWS) $("#view-" + v).hidden = v !== name;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === name);
  if (name === "watch" && rest.length > 0) {
    const id = decodeURIComponent(rest.join("/"));
    if (!state.watch || state.watch.id !== id) watchStream(id);
  }
  if (name === "health") startHealth();
  else stopHealth();
}

// ---- streams -------------------------------------------------------------------------------

function startFeed() {
  new FetchEvents("/v1/streams?watch=true&all=true", {
    onOpen: (resumed) => setPill($("#feed-state"), "live", resumed ? "live (resumed)" : "live"),
    onDrop: () => setPill($("#feed-state"), "connecting", "reconnecting…"),
    onReset: () => {
      state.streams.clear();
      renderStreams();
    },
    onEvent: (ev) => {
      if (ev.type !== "created" && ev.type !== "updated" && ev.type !== "closed") return false;
      const info = JSON.parse(ev.data);
      state.streams.set(info.id, info);
      renderStream(info, ev.type === "created");
      if (state.watch && state.watch.id === info.id) updateWatchInfo(info);
      return false;
    },
  });
}

function renderStreams() {
  $("#streams tbody").replaceChildren();
  for (const info of state.streams.values()) renderStream(info, false);
  $("#streams-empty").hidden = state.streams.size > 0;
}

function renderStream(info, isNew) {
  const tbody = $("#streams tbody");
  let tr = tbody.querySelector(`tr[data-id="${CSS.escape(info.id)}"]`);
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.id = info.id;
    for (let i = 0; i < 9; i++) tr.appendChild(document.createElement("td"));
    tr.children[0].className = "id";
    for (const i of [5, 6]) tr.children[i].className = "num";
    tr.addEventListener("click", () => {
      location.hash = "#watch/" + encodeURIComponent(info.id);
    });
    tbody.prepend(tr);
    if (isNew) tr.classList.add("new");
    while (tbody.children.length > MAX_ROWS) {
      state.streams.delete(tbody.lastElementChild.dataset.id);
      tbody.lastElementChild.remove();
    }
  }
  const c = tr.children;
  c[0].textContent = info.id;
  c[0].title = info.id;
  c[1].replaceChildren(pill(info.status, info.status));
  c[2].textContent = info.kind;
  c[3].textContent = info.model || "–";
  c[4].textContent = info.source;
  c[5].textContent = info.clients;
  c[6].textContent = info.last_event_id;
  c[7].dataset.created = info.created_at;
  c[7].dataset.closed = info.closed_at || "";
  c[7].textContent = age(info.created_at, info.closed_at);
  c[8].textContent = info.first_chunk_at ? ms(Date.parse(info.first_chunk_at) - Date.parse(info.created_at)) : "–";
  $("#streams-empty").hidden = true;
}

function tickAges() {
  for (const td of document.querySelectorAll("#streams tbody td:nth-child(8)")) {
    if (!td.dataset.closed) td.textContent = age(td.dataset.created, "");
  }
}

function age(created, closed) {
  const end = closed ? Date.parse(closed) : Date.now();
  const s = Math.max(0, Math.round((end - Date.parse(created)) / 1000));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
}

function ms(n) {
  return n < 1000 ? Math.max(0, Math.round(n)) + " ms" : (n / 1000).toFixed(2) + " s";
}

function pill(cls, text) {
  const b = document.createElement("b");
  setPill(b, cls, text);
  return b;
}

function setPill(el, cls, text) {
  el.className = "pill " + cls;
  el.textContent = text;
}

// ---- watch ---------------------------------------------------------------------------------

function watchStream(id) {
  closeWatch();
  const w = { id, lastId: 0, chunks: 0, resumes: 0, done: false, source: null, retry: 0 };
  state.watch = w;
  $("#watch-id").textContent = id;
  $("#watch-none").hidden = true;
  $("#watch-body").hidden = false;
  $("#watch-text").replaceChildren();
  $("#watch-frames").textContent = "";
  $("#watch-count").textContent = "0";
  $("#watch-resumes").textContent = "0";
  $("#watch-end").hidden = true;
  $("#watch-stop").disabled = false;
  setPill($("#watch-status"), "connecting", "connecting…");
  const known = state.streams.get(id);
  if (known) updateWatchInfo(known);
  connect(w, "").catch((err) => endWatch(w, "error", "cannot watch: " + err.message));
}

function closeWatch() {
  if (state.watch && state.watch.source) state.watch.source.close();
  state.watch = null;
}

// connect opens the stream's events after the last chunk received. marker, when set, is shown in
// the text where the stream resumes.
async function connect(w, marker) {
  const q = new URLSearchParams();
  if (w.lastId > 0) q.set("after", String(w.lastId));
  const path = "/v1/streams/" + encodeURIComponent(w.id) + "/events";
  const status = state.status;
  if (!status.open && !status.tokens) {
    // Keys but no stream tokens: an EventSource could only carry the key in its URL, so read
    // with fetch and the key header instead.
    w.source = new FetchEvents(path + "?" + q, {
      onOpen: (resumed) => opened(w, resumed ? "resumed after chunk " + w.lastId : marker),
      onDrop: () => state.watch === w && !w.done && setPill($("#watch-status"), "connecting", "reconnecting…"),
      onEvent: (ev) => onWatchEvent(w, ev),
    });
    return;
  }
  if (!status.open) {
    const t = await api("POST", "/v1/streams/" + encodeURIComponent(w.id) + "/tokens", { ttl: TOKEN_TTL });
    q.set("token", t.token);
  }
  if (state.watch !== w) return;
  const es = new EventSource(path + "?" + q);
  w.source = es;
  let wasOpen = false;
  es.addEventListener("open", () => {
    opened(w, wasOpen ? "resumed after chunk " + w.lastId : marker);
    wasOpen = true;
    marker = "";
  });
  for (const type of ["message", "done"]) es.addEventListener(type, (ev) => onWatchEvent(w, ev));
  es.addEventListener("error", (ev) => {
    if (ev instanceof MessageEvent) {
      onWatchEvent(w, ev); // the gateway's error chunk
      return;
    }
    if (w.done || state.watch !== w) return;
    if (es.readyState === EventSource.CONNECTING) {
      setPill($("#watch-status"), "connecting", "reconnecting…");
      return;
    }
    // The EventSource gave up (its token expired, say): a new token, from the last chunk on.
    es.close();
    setPill($("#watch-status"), "connecting", "reconnecting…");
    if (++w.retry > 5) {
      endWatch(w, "error", "the connection failed " + w.retry + " times");
      return;
    }
    sleep(RECONNECT_MS * w.retry)
      .then(() => state.watch === w && connect(w, "reconnected after chunk " + w.lastId + " with a new token"))
      .catch((err) => endWatch(w, "error", "cannot watch: " + err.message));
  });
}

function opened(w, marker) {
  if (state.watch !== w || w.done) return;
  w.retry = 0;
  setPill($("#watch-status"), "live", "live");
  if (marker) {
    w.resumes++;
    $("#watch-resumes").textContent = String(w.resumes);
    const m = document.createElement("span");
    m.className = "marker";
    m.textContent = "⟳ " + marker;
    $("#watch-text").appendChild(m);
    appendFrame("(" + marker + ")");
  }
}

// onWatchEvent handles one event of the watched stream; it returns true at the end.
function onWatchEvent(w, ev) {
  if (state.watch !== w) return true;
  if (ev.type === "done") {
    appendFrame("event: done\ndata: " + ev.data);
    const d = JSON.parse(ev.data);
    endWatch(w, d.status, "closed: " + d.reason);
    return true;
  }
  if (ev.lastEventId) w.lastId = Number(ev.lastEventId);
  w.chunks++;
  $("#watch-count").textContent = String(w.chunks);
  appendFrame("id: " + ev.lastEventId + (ev.type !== "message" ? "\nevent: " + ev.type : "") + "\ndata: " + ev.data);
  if (ev.type === "error") {
    const e = document.createElement("span");
    e.className = "chunk-error";
    e.textContent = "error: " + errorMessage(parseJSON(ev.data), ev.data);
    $("#watch-text").appendChild(e);
    return false;
  }
  const text = chunkText(parseJSON(ev.data));
  if (text) $("#watch-text").append(text);
  return false;
}

// chunkText is the text a chunk adds: a Gemini GenerateContentResponse's
// candidates[0].content.parts[].text, or an OpenAI chunk's choices[0].delta.content.
function chunkText(chunk) {
  const parts = chunk?.candidates?.[0]?.content?.parts;
  if (Array.isArray(parts)) return parts.map((p) => (typeof p.text === "string" ? p.text : "")).join("");
  const delta = chunk?.choices?.[0]?.delta?.content;
  return typeof delta === "string" ? delta : "";
}

function parseJSON(s) {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

function appendFrame(text) {
  $("#watch-frames").append(text + "\n\n");
}

function endWatch(w, status, text) {
  if (state.watch !== w) return;
  w.done = true;
  if (w.source) w.source.close();
  setPill($("#watch-status"), status, status);
  const end = $("#watch-end");
  end.hidden = false;
  end.className = "end " + status;
  end.textContent = text;
  $("#watch-stop").disabled = true;
}

function updateWatchInfo(info) {
  if (info.status !== "active") $("#watch-stop").disabled = true;
  if (info.error && state.watch && !state.watch.done) {
    $("#watch-end").hidden = false;
    $("#watch-end").textContent = "error " + info.error.code + ": " + info.error.message;
  }
}

function setupWatch() {
  $("#watch-raw").addEventListener("change", (e) => {
    $("#watch-frames").hidden = !e.target.checked;
    $("#watch-text").hidden = e.target.checked;
  });
  $("#watch-stop").addEventListener("click", async () => {
    const w = state.watch;
    if (!w) return;
    $("#watch-stop").disabled = true;
    try {
      await api("DELETE", "/v1/streams/" + encodeURIComponent(w.id));
    } catch (err) {
      $("#watch-stop").disabled = false;
      endWatch(w, "error", "stop failed: " + err.message);
    }
  });
}

// ---- try it --------------------------------------------------------------------------------

function setupTry() {
  $("#try-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("#try-error").textContent = "";
    $("#try-go").disabled = true;
    try {
      const model = $("#try-model").value.trim();
      const request = { contents: [{ role: "user", parts: [{ text: $("#try-prompt").value }] }] };
      const created = await api("POST", "/v1/streams", { model, request });
      location.hash = "#watch/" + encodeURIComponent(created.id);
    } catch (err) {
      $("#try-error").textContent = err.message;
    } finally {
      $("#try-go").disabled = false;
    }
  });
}

// ---- health --------------------------------------------------------------------------------

let healthTimer = 0;

function startHealth() {
  if (healthTimer) return;
  const poll = async () => {
    try {
      state.status = await api("GET", "/v1/status");
      renderHealth(state.status);
    } catch (err) {
      $("#health-access").textContent = err.message;
    }
  };
  poll();
  healthTimer = setInterval(poll, 2000);
}

function stopHealth() {
  clearInterval(healthTimer);
  healthTimer = 0;
}

function renderHealth(s) {
  $("#health-active").textContent = s.active_streams;
  $("#health-subscribers").textContent = s.subscribers;
  $("#health-rate").textContent = s.chunks_per_second[s.chunks_per_second.length - 1];
  $("#health-upstream").textContent = s.upstream || "–";
  $("#health-version").textContent = s.version || "–";
  $("#health-access").textContent = s.open ? "open (no keys)" : s.tokens ? "keys, stream tokens" : "keys, no tokens";
  drawChart($("#health-chart"), s.chunks_per_second);
}

function drawChart(canvas, values) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  canvas.width = w * ratio;
  canvas.height = h * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  const css = getComputedStyle(document.documentElement);
  const pad = { l: 40, r: 10, t: 10, b: 22 };
  const max = Math.max(1, ...values);
  g.clearRect(0, 0, w, h);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = css.getPropertyValue("--muted");
  g.strokeStyle = css.getPropertyValue("--line");
  g.beginPath();
  g.moveTo(pad.l, pad.t);
  g.lineTo(pad.l, h - pad.b);
  g.lineTo(w - pad.r, h - pad.b);
  g.stroke();
  g.fillText(String(max), 4, pad.t + 8);
  g.fillText("0", 4, h - pad.b);
  g.fillText("-60s", pad.l, h - 6);
  g.fillText("now", w - pad.r - 20, h - 6);
  const step = (w - pad.l - pad.r) / values.length;
  g.fillStyle = css.getPropertyValue("--accent");
  values.forEach((v, i) => {
    const bh = (v / max) * (h - pad.t - pad.b);
    g.fillRect(pad.l + i * step + 1, h - pad.b - bh, Math.max(1, step - 2), bh);
  });
}

// ---- start ---------------------------------------------------------------------------------

async function main() {
  setupKeyDialog();
  setupWatch();
  setupTry();
  $("#forget-key").hidden = !state.key;
  // The page says whether the gateway has keys, so that the console asks for one before its
  // first request rather than after a 401.
  if (document.querySelector('meta[name="streamgate-auth"]').content === "keys" && !state.key) {
    await askKey("This gateway needs a client key.");
  }
  state.status = await api("GET", "/v1/status");
  window.addEventListener("hashchange", route);
  route();
  startFeed();
  setInterval(tickAges, 1000);
}

main().catch((err) => {
  setPill($("#feed-state"), "down", "error: " + err.message);
});
