// The live view: a camera or a local video sent frame by frame to the stream WebSocket at the
// camera's pace, the answers drawn over the picture and as per-person timelines; and finished
// videos (the /clip endpoint or a jobs.infer output folder) with their timeline, click to seek.
// The page lives at <service>/live/, so every API path is relative to the folder above it
// (the service may sit under a route prefix or behind a proxy).
"use strict";

const API = new URL("..", location.href);
const KEYPOINT_MIN_SCORE = 0.3;   // joints drawn (the pose model's calibrated scores, [0, 1])
const LATENCY_WINDOW = 300;       // answers the latency percentiles are taken over
const TIMELINE_SPAN_S = 60;       // seconds of live timeline shown
const ANSWER_LOG = 20000;         // answers kept for inspection (window.liveView.answers)
const FRAME_MEMORY = 1000;        // sent frames whose times are kept (answers name older ones)
const JPEG_QUALITY = 0.95;        // of the frames sent (as the serving benchmark's client)
const PALETTE = ["#8e8e93", "#0a84ff", "#30d158", "#ff9f0a", "#bf5af2", "#64d2ff", "#ff375f",
                 "#ffd60a", "#ac8e68", "#5e5ce6", "#ff6482", "#66d4cf", "#b4e600", "#d08c60"];

const $ = (id) => document.getElementById(id);

// Everything the page knows, readable from the console or a test as window.liveView.
const view = {
  classes: [], objectClasses: [], skeleton: [], colors: {},
  live: null,          // the running live stream (startLive)
  answers: [],         // {frame_index, sent_ms, captured_ms, latency_ms, persons, dropped}
  tracks: {},          // live timelines: track id -> [{start, end, action}] (frames)
  finished: null,      // the finished video's timeline document
  errors: [],
};
window.liveView = view;

// -- messages ---------------------------------------------------------------------------------
function showMessage(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = kind === "error" ? "" : kind;
  box.hidden = false;
  if (kind === "error") view.errors.push(text);
}

function clearMessage() {
  $("message").hidden = true;
}

window.addEventListener("error", (e) => showMessage(`page error: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => showMessage(String(e.reason?.message ?? e.reason)));

// -- the service ------------------------------------------------------------------------------
function token() {
  return $("token").value.trim();
}

function wsUrl(path) {
  const url = new URL(path, API);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  if (token()) url.searchParams.set("token", token());
  return url;
}

// What a person can do about a refusal, by status.
const HINTS = {
  401: "enter the service's API token above (WORKCELL_API_TOKEN)",
  403: "this service takes no callers beyond its own machine until it has an API token " +
       "(docs/serving.md, 'Access')",
  404: "open a new stream: press Start again",
  413: "lower the width frames are sent at, or send a shorter video",
  415: "send a JPEG or PNG frame, or a video file",
  429: "the service is busy: close another stream or try again later",
  503: "a model replica is restarting; the stream goes on with the next frames",
};

async function request(path, options = {}) {
  const headers = {...(options.headers ?? {})};
  if (token()) headers.Authorization = `Bearer ${token()}`;
  let response;
  try {
    response = await fetch(new URL(path, API), {...options, headers});
  } catch (err) {
    throw new Error(`the service at ${API} is unreachable (${err.message}); is it running?`);
  }
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = {detail: text.slice(0, 300)};
  }
  if (!response.ok) {
    const hint = HINTS[response.status] ? ` (${HINTS[response.status]})` : "";
    throw new Error(`${response.status}: ${body.detail ?? text}${hint}`);
  }
  return body;
}

function color(action) {
  return view.colors[action] ?? "#555";
}

async function loadClasses() {
  try {
    const doc = await request("classes");
    view.classes = doc.action_classes;
    view.objectClasses = doc.object_classes;
    view.skeleton = doc.skeleton_links;
    view.classes.forEach((c, i) => {
      view.colors[c] = PALETTE[i % PALETTE.length];
    });
    $("legend").replaceChildren(...view.classes.map((c) => {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = color(c);
      item.append(swatch, c);
      return item;
    }));
    clearMessage();
  } catch (err) {
    showMessage(`cannot read the service's classes: ${err.message}`);
  }
}

// -- live: capture and send -------------------------------------------------------------------
async function openSource(video) {
  const source = document.querySelector("input[name=source]:checked").value;
  const fps = Number($("fps").value);
  if (source === "camera") {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error("this browser gives this page no camera: open the page on https or " +
                      "on localhost (e.g. through an SSH tunnel, docs/serving.md)");
    }
    let media;
    try {
      media = await navigator.mediaDevices.getUserMedia({video: {frameRate: fps}, audio: false});
    } catch (err) {
      const why = {
        NotAllowedError: "the camera was refused: allow it for this page in the browser's " +
                         "site settings, then press Start",
        NotFoundError: "no camera was found on this computer",
        NotReadableError: "the camera is in use by another program",
      }[err.name] ?? `the camera could not be opened (${err.name}: ${err.message})`;
      throw new Error(why);
    }
    video.srcObject = media;
  } else {
    const file = $("live-file").files[0];
    if (!file) throw new Error("choose a video file first");
    video.srcObject = null;
    video.src = URL.createObjectURL(file);
  }
  await playable(video, source === "camera" ? "the camera" : $("live-file").files[0].name);
}

// Resolves once the video shows frames; rejects with what to do when it cannot.
function playable(video, what) {
  return new Promise((resolve, reject) => {
    const failed = () => reject(new Error(
      `the browser cannot play ${what} (${video.error?.message || "unsupported format"}): ` +
      "convert it to H.264 MP4 or WebM, e.g. ffmpeg -i in.mp4 -c:v libvpx out.webm"));
    video.addEventListener("error", failed, {once: true});
    video.addEventListener("loadeddata", () => {
      video.removeEventListener("error", failed);
      video.play().then(resolve, reject);
    }, {once: true});
    if (video.readyState >= 2) video.play().then(resolve, reject);
  });
}

async function startLive() {
  clearMessage();
  const fps = Number($("fps").value);
  const width = Number($("send-width").value);
  if (!(fps >= 1 && fps <= 60)) throw new Error("frames/s: give a number from 1 to 60");
  if (!(width >= 32)) throw new Error("width: give at least 32 pixels");
  const video = $("live-video");
  await openSource(video);
  const opened = await request(`streams?fps=${fps}`, {method: "POST"});
  const socket = new WebSocket(wsUrl(`streams/${opened.stream_id}/ws?poses=true&objects=true`));
  socket.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error("the stream's WebSocket could not be opened " +
                                            "(service unreachable, or a wrong API token)"));
  });
  const live = {
    streamId: opened.stream_id, fps, width, socket, video, sent: 0, answered: 0, dropped: 0,
    refused: 0, sentAt: new Map(), capturedAt: new Map(), sourceTime: new Map(), latencies: [],
    size: null, frameTime: null, started: performance.now(), chain: Promise.resolve(),
    timer: null,
  };
  if (video.requestVideoFrameCallback) {
    const presented = (_, meta) => {
      live.frameTime = meta.mediaTime;
      if (view.live === live) video.requestVideoFrameCallback(presented);
    };
    video.requestVideoFrameCallback(presented);
  }
  view.live = live;
  view.answers = [];
  view.tracks = {};
  $("live-timelines").replaceChildren();
  socket.onmessage = (e) => onAnswer(live, JSON.parse(e.data));
  socket.onclose = (e) => {
    if (view.live === live) {
      showMessage(`the stream's socket was closed (code ${e.code}${e.reason ? ": " + e.reason : ""}); ` +
                  "press Start to open a new stream");
      stopLive();
    }
  };
  live.timer = setInterval(() => capture(live), 1000 / fps);
  $("start").disabled = true;
  $("stop").disabled = false;
  $("stat-state").textContent = `stream ${live.streamId}, ${fps} frames/s`;
}

// One frame of the camera, at the camera's pace: scaled to the send width and sent as JPEG.
// Frames go out in capture order (the service numbers them as they arrive).
function capture(live) {
  const {video, socket} = live;
  if (video.ended) {
    setTimeout(() => view.live === live && stopLive(), 3000);   // the last answers come
    clearInterval(live.timer);
    return;
  }
  if (socket.readyState !== WebSocket.OPEN || video.readyState < 2 || !video.videoWidth) return;
  // A connection slower than the camera: this frame is skipped here rather than queued.
  if (socket.bufferedAmount > 4 * live.width * live.width) return;
  const w = Math.min(live.width, video.videoWidth);
  const h = Math.round(video.videoHeight * w / video.videoWidth);
  const canvas = live.canvas ?? (live.canvas = document.createElement("canvas"));
  canvas.width = w;
  canvas.height = h;
  canvas.getContext("2d").drawImage(video, 0, 0, w, h);
  live.size = [w, h];
  const captured = performance.now() - live.started;
  // The captured picture's own time: its media time (a camera's: since it started; a file's:
  // its position), or the playback position where the browser does not tell.
  const source = live.frameTime ?? video.currentTime;
  const encoded = new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
  live.chain = live.chain.then(() => encoded).then((blob) => {
    if (!blob || socket.readyState !== WebSocket.OPEN) return;
    const index = live.sent++;
    live.capturedAt.set(index, captured);
    live.sourceTime.set(index, source);
    live.capturedAt.delete(index - FRAME_MEMORY);
    live.sourceTime.delete(index - FRAME_MEMORY);
    live.sentAt.set(index, performance.now());
    socket.send(blob);
    $("stat-sent").textContent = live.sent;
  });
}

function stopLive() {
  const live = view.live;
  if (!live) return;
  view.live = null;
  clearInterval(live.timer);
  if (live.socket.readyState <= WebSocket.OPEN) live.socket.close(1000);
  request(`streams/${live.streamId}`, {method: "DELETE"}).catch(() => {});
  live.video.srcObject?.getTracks().forEach((t) => t.stop());
  live.video.pause();
  $("start").disabled = false;
  $("stop").disabled = true;
  $("stat-state").textContent = `stopped (stream ${live.streamId})`;
}

// -- live: answers ----------------------------------------------------------------------------
function percentile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function onAnswer(live, answer) {
  if (answer.error) {
    live.refused += 1;
    const where = answer.frame_index === undefined ? "" : `frame ${answer.frame_index}: `;
    const hint = HINTS[answer.status] ? ` (${HINTS[answer.status]})` : "";
    showMessage(`${where}${answer.error}${hint}`, answer.status === 503 ? "info" : "error");
    return;
  }
  const index = answer.frame_index;
  const now = performance.now();
  const latency = live.sentAt.has(index) ? now - live.sentAt.get(index) : null;
  // Frames up to this one are answered or dropped: their send times are no longer needed.
  for (const k of live.sentAt.keys()) if (k <= index) live.sentAt.delete(k);
  live.answered += 1;
  live.dropped += answer.dropped_frames;
  if (latency !== null) {
    live.latencies.push(latency);
    if (live.latencies.length > LATENCY_WINDOW) live.latencies.shift();
  }
  const sourceTime = (frame) => live.sourceTime.get(frame) ?? null;
  view.answers.push({
    frame_index: index, latency_ms: latency, captured_ms: live.capturedAt.get(index) ?? null,
    source_s: sourceTime(index), dropped: answer.dropped_frames, degraded: answer.degraded,
    persons: answer.persons.map((p) => ({
      track_id: p.track_id, action: p.action, score: p.score, about_frame: p.about_frame,
      about_source_s: p.about_frame === null ? null : sourceTime(p.about_frame),
      delay_s: p.delay_s, box: p.box})),
  });
  if (view.answers.length > ANSWER_LOG) view.answers.shift();
  drawOverlay(live, answer);
  listPersons(answer);
  growTimelines(live, answer);
  updateStats(live, answer);
}

function updateStats(live, answer) {
  $("stat-answered").textContent = live.answered;
  $("stat-dropped").textContent =
    `${live.dropped} (${(100 * live.dropped / Math.max(1, live.sent)).toFixed(1)} %)`;
  $("stat-latency").textContent = live.latencies.length
    ? `${percentile(live.latencies, 0.5).toFixed(0)} / ${percentile(live.latencies, 0.95).toFixed(0)} ms`
    : "-";
  const delays = answer.persons.map((p) => p.delay_s).filter((d) => d !== null);
  $("stat-delay").textContent = delays.length ? `${Math.max(...delays).toFixed(2)} s` : "-";
  $("stat-degraded").textContent = answer.degraded.length ? answer.degraded.join(", ") : "no";
}

function drawOverlay(live, answer) {
  const canvas = $("overlay");
  const [w, h] = live.size ?? [live.video.videoWidth, live.video.videoHeight];
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  ctx.lineWidth = Math.max(1, w / 320);
  ctx.font = `${Math.max(10, Math.round(w / 40))}px system-ui, sans-serif`;
  for (const o of answer.objects ?? []) {
    const [x0, y0, x1, y1] = o.box;
    ctx.strokeStyle = ctx.fillStyle = "#ffb000";
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.fillText(o.label, x0, Math.max(10, y0 - 2));
  }
  for (const p of answer.persons) {
    const tone = p.action ? color(p.action) : "#fff";
    const [x0, y0, x1, y1] = p.box;
    ctx.strokeStyle = tone;
    ctx.lineWidth = Math.max(2, w / 200);
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    const label = `#${p.track_id} ${p.action ?? "…"}${p.score ? " " + p.score.toFixed(2) : ""}`;
    ctx.fillStyle = "rgba(0,0,0,.6)";
    ctx.fillRect(x0, Math.max(0, y0 - 16), ctx.measureText(label).width + 6, 16);
    ctx.fillStyle = tone;
    ctx.fillText(label, x0 + 3, Math.max(12, y0 - 4));
    if (!p.keypoints) continue;
    ctx.strokeStyle = "#0f0";
    ctx.lineWidth = Math.max(1, w / 320);
    for (const [a, b] of view.skeleton) {
      if (p.keypoint_scores[a] < KEYPOINT_MIN_SCORE || p.keypoint_scores[b] < KEYPOINT_MIN_SCORE) continue;
      ctx.beginPath();
      ctx.moveTo(...p.keypoints[a]);
      ctx.lineTo(...p.keypoints[b]);
      ctx.stroke();
    }
  }
}

function listPersons(answer) {
  $("persons").replaceChildren(...answer.persons.map((p) => {
    const item = document.createElement("li");
    item.dataset.track = p.track_id;
    item.dataset.action = p.action ?? "";
    item.textContent = p.action
      ? `#${p.track_id}: ${p.action} (${p.score.toFixed(2)}), ${p.delay_s.toFixed(2)} s ago`
      : `#${p.track_id}: (no action yet)`;
    item.style.borderLeft = `6px solid ${p.action ? color(p.action) : "#ccc"}`;
    item.style.paddingLeft = ".3em";
    return item;
  }));
}

// Each person's answers as runs of one action over the frames they name (about_frame).
function growTimelines(live, answer) {
  for (const p of answer.persons) {
    if (!p.action || p.about_frame === null) continue;
    const runs = view.tracks[p.track_id] ?? (view.tracks[p.track_id] = []);
    const last = runs[runs.length - 1];
    if (last && last.action === p.action && p.about_frame <= last.end + live.fps) {
      last.end = Math.max(last.end, p.about_frame + 1);
    } else if (!last || p.about_frame >= last.end) {
      const start = last && p.about_frame - last.end <= live.fps ? last.end : p.about_frame;
      runs.push({start, end: p.about_frame + 1, action: p.action});
    }
  }
  const now = answer.frame_index + 1;
  const span = TIMELINE_SPAN_S * live.fps;
  renderTimelines($("live-timelines"), view.tracks, Math.max(0, now - span), Math.max(now, span),
                  now, null);
}

// Rows of segments (one per track), frames [from, to) across the width; ``now``: the red
// marker of the newest frame; ``seek``: called with the frame clicked (finished videos).
function renderTimelines(root, tracks, from, to, now, seek) {
  const ids = Object.keys(tracks);
  for (const id of ids) {
    let row = root.querySelector(`.timeline-row[data-track="${id}"]`);
    if (!row) {
      row = document.createElement("div");
      row.className = "timeline-row";
      row.dataset.track = id;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = `person #${id}`;
      const track = document.createElement("div");
      track.className = "track";
      if (seek) {
        track.addEventListener("click", (e) => {
          const box = track.getBoundingClientRect();
          seek(from + (e.clientX - box.left) / box.width * (to - from));
        });
      }
      row.append(who, track);
      root.append(row);
    }
    const track = row.querySelector(".track");
    const segments = tracks[id].filter((s) => s.end > from && s.start < to);
    track.replaceChildren(...segments.map((s) => {
      const seg = document.createElement("div");
      seg.className = "seg";
      Object.assign(seg.dataset, {action: s.action, start: s.start, end: s.end});
      const left = Math.max(s.start, from);
      seg.style.left = `${100 * (left - from) / (to - from)}%`;
      seg.style.width = `${100 * (Math.min(s.end, to) - left) / (to - from)}%`;
      seg.style.background = color(s.action);
      seg.title = `${s.action}: frames ${s.start}-${s.end - 1}`;
      return seg;
    }));
    if (now !== null) {
      const marker = document.createElement("div");
      marker.className = "now";
      marker.style.left = `${100 * (now - from) / (to - from)}%`;
      marker.title = "now (the newest frame sent)";
      track.append(marker);
    }
  }
}

// -- finished videos --------------------------------------------------------------------------
function showFinished(doc, videoUrl, name) {
  view.finished = doc;
  const video = $("finished-video");
  const tracks = {};
  for (const person of doc.persons) {
    tracks[person.track_id] = person.segments.map((s) => ({
      start: s.start_frame, end: s.end_frame, action: s.label}));
  }
  const root = $("video-timelines");
  root.replaceChildren();
  const seek = (frame) => {
    video.currentTime = (frame + 0.5) / doc.fps;
  };
  renderTimelines(root, tracks, 0, doc.frames, null, seek);
  const playhead = () => {
    for (const track of root.querySelectorAll(".track")) {
      const head = track.querySelector(".playhead") ?? track.appendChild(
        Object.assign(document.createElement("div"), {className: "playhead"}));
      head.style.left = `${100 * video.currentTime * doc.fps / doc.frames}%`;
    }
  };
  video.ontimeupdate = playhead;
  video.onseeked = playhead;
  if (!doc.persons.length) showMessage(`${name}: nobody was tracked in this video`, "info");
  else if (doc.operator?.frame_accuracy != null) {
    showMessage(`${name}: the operator's action is right on ` +
                `${(100 * doc.operator.frame_accuracy).toFixed(1)} % of the annotated frames`, "info");
  }
  if (videoUrl) {
    video.src = videoUrl;
    playable(video, name).then(() => video.pause()).catch((err) => showMessage(
      `${err.message}; the timeline below is complete`));
  }
}

async function sendClip(file) {
  clearMessage();
  const id = file.name.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 128) || "clip";
  showMessage(`${file.name}: the service is extracting every frame (about as long as the ` +
              "video on a GPU, longer on a CPU)…", "info");
  const doc = await request(`clip?annotated=true&video_id=${encodeURIComponent(id)}`, {
    method: "POST", body: file, headers: {"content-type": file.type || "application/octet-stream"}});
  clearMessage();
  // The annotated video the service drew (VP8 WebM, which browsers play whatever the file's
  // own codec).
  const bytes = Uint8Array.from(atob(doc.annotated_video.webm_base64), (c) => c.charCodeAt(0));
  delete doc.annotated_video.webm_base64;
  const video = new Blob([bytes], {type: doc.annotated_video.media_type});
  showFinished(doc, URL.createObjectURL(video), `${file.name} (annotated)`);
}

async function openInferFolder(files) {
  clearMessage();
  const byName = Object.fromEntries([...files].map((f) => [f.name, f]));
  if (!byName["timeline.json"]) {
    throw new Error("this folder has no timeline.json: choose the --out folder of a " +
                    "jobs.infer run");
  }
  let doc;
  try {
    doc = JSON.parse(await byName["timeline.json"].text());
  } catch (err) {
    throw new Error(`timeline.json does not parse: ${err.message}`);
  }
  if (!Array.isArray(doc.persons) || !(doc.fps > 0) || !(doc.frames > 0)) {
    throw new Error("timeline.json has no persons, fps or frames: is it jobs.infer's?");
  }
  const annotated = doc.annotated_video?.file?.split("/").pop();
  const video = byName[annotated];
  if (!video) showMessage(`the folder has no ${annotated ?? "annotated video"}: the timeline alone`, "info");
  showFinished(doc, video ? URL.createObjectURL(video) : null, annotated ?? "timeline.json");
}

// -- wiring -----------------------------------------------------------------------------------
function reportFailure(err) {
  showMessage(err.message ?? String(err));
}

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll(".tab")) {
      other.classList.toggle("active", other === tab);
      $(`panel-${other.dataset.panel}`).hidden = other !== tab;
    }
  });
}
$("start").addEventListener("click", () => startLive().catch((err) => {
  stopLive();
  reportFailure(err);
}));
$("stop").addEventListener("click", stopLive);
$("clip-file").addEventListener("change", (e) => e.target.files[0] &&
  sendClip(e.target.files[0]).catch(reportFailure));
$("infer-folder").addEventListener("change", (e) => openInferFolder(e.target.files).catch(reportFailure));
$("token").value = new URLSearchParams(location.search).get("token") ?? "";
$("token").addEventListener("change", loadClasses);
loadClasses();
