// Kinora's web page: the same public API that curl and the SDKs use, with the caller's API key.
// The key stays in this browser (localStorage); a link ending in #key=… (printed by `kinora serve` in
// embedded mode) stores it and is then removed from the address bar.
"use strict";

const KEY_STORE = "kinora.apiKey";
const POLL_MS = 1000;
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const $ = (id) => document.getElementById(id);

// source: a finished job of the user's to extend or modify ({id, mode, prompt}), chosen from its card.
const state = { key: null, models: [], cards: new Map(), cursor: null, polling: null, source: null };

class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_" + status;
    this.param = error.param || null;
  }
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.key}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch { /* not JSON: keep the status */ }
    throw new ApiError(response.status, body);
  }
  return response;
}

const json = async (path, options) => (await api(path, options)).json();

// ---- the key ---------------------------------------------------------------------------------------------

function keyFromLink() {
  const match = location.hash.match(/(?:^#|&)key=([^&]+)/);
  if (!match) return null;
  history.replaceState(null, "", location.pathname + location.search);
  return decodeURIComponent(match[1]);
}

async function useKey(key) {
  state.key = key;
  $("key-state").textContent = "Checking…";
  try {
    const models = await json("/models");
    localStorage.setItem(KEY_STORE, key);
    $("api-key").value = "";
    $("api-key").placeholder = "key saved in this browser";
    $("forget-key").hidden = false;
    $("key-state").textContent = "Connected.";
    $("key-state").className = "ok";
    showModels(models);
    document.body.classList.add("connected");
    await loadJobs(true);
  } catch (err) {
    state.key = null;
    document.body.classList.remove("connected");
    $("key-state").textContent = err.status === 401 ? `Key refused: ${err.message}` : `Cannot connect: ${err.message}`;
    $("key-state").className = "error";
  }
}

function forgetKey() {
  localStorage.removeItem(KEY_STORE);
  state.key = null;
  state.cards.clear();
  setSource(null);
  $("job-list").replaceChildren();
  $("more").hidden = true;
  $("empty").hidden = true;
  $("forget-key").hidden = true;
  $("api-key").placeholder = "kin_…";
  $("key-state").textContent = "";
  document.body.classList.remove("connected");
}

// ---- models ----------------------------------------------------------------------------------------------

function showModels(list) {
  state.models = list.data;
  const select = $("model");
  select.replaceChildren(...list.data.filter((m) => m.available).map((m) => {
    const option = new Option(m.name + (m.random_weights ? " (random weights: noise)" : ""), m.name);
    option.selected = m.name === list.default;
    return option;
  }));
  describeModel();
}

function describeModel() {
  const model = state.models.find((m) => m.name === $("model").value);
  if (!model) return;
  $("duration").max = model.max_seconds;
  $("image").required = model.requires_image;
  $("model-note").textContent = model.description;
  $("image_position").disabled = model.image_positions.length < 2;
  $("mode").disabled = model.video_modes.length < 2;
}

// ---- creating a job --------------------------------------------------------------------------------------

// Only what the user filled in goes out: the server fills in every default and echoes it back.
function requestForm() {
  const form = new FormData();
  const text = (id) => $(id).value.trim();
  for (const id of ["prompt", "model", "duration", "aspect_ratio", "resolution", "negative_prompt", "seed",
                    "steps", "guidance_scale", "fps"]) {
    if (text(id) !== "") form.append(id, text(id));
  }
  const image = $("image").files[0];
  if (image) {
    form.append("image", image);
    form.append("image_position", $("image_position").value);
  }
  const video = $("video").files[0];
  const mode = state.source && !video ? state.source.mode : $("mode").value;
  if (video || state.source) {
    form.append("video", video || state.source.id);  // a job id names that job's video
    form.append("mode", mode);
    if (mode === "modify" && text("strength") !== "") form.append("strength", text("strength"));
  }
  return form;
}

function showFormError(message, param) {
  const box = $("form-error");
  box.textContent = message;
  box.hidden = !message;
  document.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  const field = param && document.getElementById(param.split(".")[0]);
  if (field) {
    field.classList.add("invalid");
    field.closest("details")?.setAttribute("open", "");
    field.focus();
  }
}

async function submitJob(event) {
  event.preventDefault();
  if (!state.key) return showFormError("Enter your API key first.", "api-key");
  if (!$("prompt").value.trim()) return showFormError("Write a prompt: what the video shows.", "prompt");
  showFormError("");
  $("submit").disabled = true;
  try {
    const job = await json("/generate", { method: "POST", body: requestForm() });
    $("empty").hidden = true;
    setSource(null);
    showJob(job, { first: true });
    poll();
  } catch (err) {
    const where = err.param && !err.message.startsWith(err.param) ? `${err.param}: ` : "";
    showFormError(`${where}${err.message}`, err.param);
  } finally {
    $("submit").disabled = false;
  }
}

// ---- the job list ----------------------------------------------------------------------------------------

async function loadJobs(fresh) {
  const after = fresh ? "" : `&after=${encodeURIComponent(state.cursor)}`;
  const page = await json(`/jobs?limit=12${after}`);
  if (fresh) {
    state.cards.clear();
    $("job-list").replaceChildren();
  }
  page.data.forEach((job) => showJob(job, { first: false }));
  state.cursor = page.next_cursor;
  $("more").hidden = !page.has_more;
  $("empty").hidden = state.cards.size > 0;
  poll();
}

function showJob(job, { first }) {
  let card = state.cards.get(job.id);
  if (!card) {
    card = $("job-template").content.firstElementChild.cloneNode(true);
    card.dataset.id = job.id;
    card.querySelector(".cancel").addEventListener("click", () => cancelJob(job.id));
    card.querySelector(".reuse").addEventListener("click", () => reuse(card.job));
    card.querySelector(".extend").addEventListener("click", () => setSource(card.job, "extend"));
    card.querySelector(".modify").addEventListener("click", () => setSource(card.job, "modify"));
    state.cards.set(job.id, card);
    const list = $("job-list");
    first ? list.prepend(card) : list.append(card);
  }
  const before = card.job;
  card.job = job;
  card.dataset.status = job.status;
  card.querySelector(".prompt").textContent = job.request.prompt;
  card.querySelector(".badge").textContent = job.status.replace("_", " ");
  const progress = card.querySelector("progress");
  progress.value = job.progress;
  progress.hidden = TERMINAL.has(job.status);
  card.querySelector(".detail").textContent = detail(job);
  card.querySelector(".cancel").hidden = TERMINAL.has(job.status) || job.cancel_requested;
  const error = card.querySelector(".error");
  error.hidden = !job.error;
  error.textContent = job.error ? job.error.message : "";
  card.querySelector(".extend").hidden = card.querySelector(".modify").hidden = job.status !== "completed";
  if (job.status === "completed" && (!before || before.status !== "completed")) loadVideo(card, job);
}

function detail(job) {
  const r = job.request;
  const size = job.output ? `${job.output.width}×${job.output.height}` : r.width ? `${r.width}×${r.height}` : "";
  const parts = [`${r.duration} s`, size, r.model, `seed ${r.seed}`];
  if (job.status === "queued" && job.queue_position) parts.unshift(`#${job.queue_position} in line`);
  if (job.status === "in_progress") {
    parts.unshift(`${job.progress} %` + (job.eta_seconds != null ? `, about ${Math.ceil(job.eta_seconds)} s left` : ""));
  }
  if (job.cancel_requested && !TERMINAL.has(job.status)) parts.unshift("cancelling");
  return parts.filter(Boolean).join(" · ");
}

// Media downloads need the key too, so the MP4 is fetched and played from memory.
async function loadVideo(card, job) {
  const video = card.querySelector("video");
  const link = card.querySelector(".download");
  try {
    const blob = await (await api(job.output.url)).blob();
    const url = URL.createObjectURL(blob);
    video.src = url;
    video.hidden = false;
    link.href = url;
    link.download = `${job.id}.mp4`;
    link.hidden = false;
  } catch (err) {
    const error = card.querySelector(".error");
    error.textContent = `The video could not be loaded here: ${err.message}`;
    error.hidden = false;
  }
}

async function cancelJob(id) {
  try {
    showJob(await json(`/jobs/${id}/cancel`, { method: "POST" }), { first: false });
  } catch (err) {
    const card = state.cards.get(id);
    card.querySelector(".error").textContent = err.message;
    card.querySelector(".error").hidden = false;
  }
  poll();
}

function reuse(job) {
  const r = job.request;
  $("prompt").value = r.prompt;
  if (state.models.some((m) => m.name === r.model)) $("model").value = r.model;
  $("duration").value = r.duration;
  $("seed").value = r.seed;
  describeModel();
  $("prompt").focus();
}

// The next request continues (extend) or regenerates (modify) a finished video, until cleared or sent.
function setSource(job, mode) {
  state.source = job ? { id: job.id, mode } : null;
  $("source").hidden = !job;
  if (!job) return;
  $("source-text").textContent = mode === "extend"
    ? `Extending “${job.request.prompt}”: say what happens next.`
    : `Modifying “${job.request.prompt}”: say what it becomes.`;
  $("prompt").value = "";
  $("video").value = "";
  $("prompt").focus();
}

// One timer refreshes every job on the page that is not finished yet.
function poll() {
  if (state.polling) return;
  state.polling = setTimeout(async () => {
    state.polling = null;
    const open = [...state.cards.values()].filter((card) => !TERMINAL.has(card.job.status));
    await Promise.all(open.map(async (card) => {
      try {
        showJob(await json(`/jobs/${card.job.id}`), { first: false });
      } catch (err) {
        if (err.status === 404) {  // deleted meanwhile (DELETE /v1/videos/{id})
          state.cards.delete(card.job.id);
          card.remove();
        }  // otherwise a network blip: try again on the next tick
      }
    }));
    if ([...state.cards.values()].some((card) => !TERMINAL.has(card.job.status))) poll();
  }, POLL_MS);
}

// ---- start -----------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (key) useKey(key);
  });
  $("forget-key").addEventListener("click", forgetKey);
  $("generate-form").addEventListener("submit", submitJob);
  $("model").addEventListener("change", describeModel);
  $("more").addEventListener("click", () => loadJobs(false));
  $("source-clear").addEventListener("click", () => setSource(null));
  const key = keyFromLink() || localStorage.getItem(KEY_STORE);
  if (key) useKey(key);
  else $("key-state").textContent = "Enter an API key (`kinora keys create`).";
});
