// The studio page: choose a seed, send it with the options to the JSON API, poll the job,
// show each result as a card (piano roll, audio, downloads). Uses only the API in docs/studio.md.
"use strict";

const $ = (selector, root = document) => root.querySelector(selector);
const MODE_LABELS = { continue: "Continue the seed", infill: "Regenerate bars",
                      arrange: "Add parts" };
const MODE_HELP = {
  continue: "",
  infill: "Regenerates bars FIRST-LAST (counted from 1) of all tracks, or of the tracks given " +
    "(numbers as in the table above); everything else stays as it is.",
  arrange: "Adds new tracks that fit the others (bass, drums, piano, … or a GM program " +
    "0-127), for the whole piece or for bars FIRST-LAST.",
};
const POLL_MS = 300;
let seedFile = null;
let seedInfo = null;
let resultCount = 0;

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function show(element, text) {
  element.textContent = text || "";
  element.hidden = !text;
}

async function loadInfo() {
  const info = await api("/api/info");
  $("#model").textContent = `checkpoint ${info.checkpoint} · musegen ${info.musegen} · ` +
    `${info.styles.length} styles · runs on this machine, nothing leaves it`;
  for (const [name, values] of [["style", info.styles], ["mood", info.moods]]) {
    const select = $(`select[name=${name}]`);
    for (const value of values) select.add(new Option(value, value));
  }
  const modes = $("#modes");
  for (const mode of [...info.modes, ...Object.keys(info.modes_unavailable)]) {
    const on = info.modes.includes(mode);
    const label = document.createElement("label");
    label.className = on ? "" : "off";
    label.title = on ? "" : info.modes_unavailable[mode];
    label.innerHTML = `<input type="radio" name="mode" value="${mode}"` +
      `${on ? "" : " disabled"}${mode === "continue" ? " checked" : ""}> ` +
      `${MODE_LABELS[mode] || mode}${on ? "" : " (needs a checkpoint with bar plans)"}`;
    modes.append(label);
  }
  modes.addEventListener("change", (e) => setMode(e.target.value));
  for (const part of info.parts) $("#part-names").append(new Option(part));
  for (const group of document.querySelectorAll("[data-controls]")) {
    group.hidden = group.disabled = !info.controls;
  }
}

// Show and send only the fields of the chosen mode (a disabled fieldset is not sent).
function setMode(mode) {
  for (const group of document.querySelectorAll("[data-modes]")) {
    const on = group.dataset.modes.split(" ").includes(mode);
    group.hidden = group.disabled = !on;
  }
  show($("#mode-help"), MODE_HELP[mode]);
}

async function chooseSeed(file) {
  show($("#seed-error"), "");
  const form = new FormData();
  form.append("midi", file, file.name);
  try {
    seedInfo = await api("/api/seed", { method: "POST", body: form });
  } catch (err) {
    seedFile = null;
    $("#seed").hidden = true;
    $("#generate").disabled = true;
    show($("#seed-error"), err.message);
    return;
  }
  seedFile = file;
  const s = seedInfo;
  const key = s.keys.length ? ` · key ${s.keys.join(", ")}` : "";
  const tempo = s.tempo_changes > 1 ? `${s.tempos_qpm[0]} BPM (+${s.tempo_changes - 1} changes)`
    : `${s.tempos_qpm[0]} BPM`;
  $("#seed-summary").innerHTML = "";
  $("#seed-summary").append(
    Object.assign(document.createElement("strong"), { textContent: file.name }),
    ` · ${s.bars} bars · ${s.meters.join(", ")} · ${tempo}${key} · ${s.seconds.toFixed(1)} s`);
  const body = $("#tracks tbody");
  body.innerHTML = "";
  for (const t of s.tracks) {
    const row = body.insertRow();
    const swatch = `<span class="swatch" style="background:${trackColour(t.index)}"></span>`;
    row.insertCell().innerHTML = swatch + (t.index + 1);
    row.insertCell().textContent = t.name;
    row.insertCell().textContent = t.is_drum ? "Drums" : `${t.instrument} (${t.program})`;
    row.insertCell().textContent = t.notes;
  }
  $("#seed").hidden = false;
  drawRoll($("#seed-roll"), s.roll);
  $("#generate").disabled = false;
}

function formFields() {
  const fields = new FormData($("#form"));
  const out = new FormData();
  out.append("midi", seedFile, seedFile.name);
  for (const [name, value] of fields) if (String(value).trim() !== "") out.append(name, value);
  return out;
}

function describe(request) {
  const range = (bars) => `bars ${bars[0]}-${bars[1]}`;
  let parts = [`${request.bars} bars`];
  if (request.mode === "infill") {
    parts = [`regenerate ${range(request.bars)}`,
             request.tracks ? `tracks ${request.tracks.join(",")}` : "all tracks"];
  } else if (request.mode === "arrange") {
    parts = [`add ${request.parts.join(", ")}`,
             request.bars ? range(request.bars) : "whole piece"];
  }
  for (const name of ["style", "mood", "key", "pitch_range", "programs", "density", "polyphony",
                      "register"]) {
    if (request[name] !== undefined) parts.push(`${name} ${request[name]}`);
  }
  parts.push(`temperature ${request.temperature ?? 0.95}`, `seed ${request.seed ?? 0}`);
  return parts.join(" · ");
}

async function generate(event) {
  event.preventDefault();
  if (!seedFile) return;
  show($("#form-error"), "");
  let job;
  try {
    job = await api("/api/jobs", { method: "POST", body: formFields() });
  } catch (err) {
    show($("#form-error"), err.message);
    return;
  }
  resultCount += 1;
  const card = $("#card-template").content.firstElementChild.cloneNode(true);
  card.dataset.job = job.id;
  $("h3", card).textContent = `#${resultCount} · ${job.seed_name}`;
  $(".options", card).textContent = describe(job.request);
  $(".remove", card).addEventListener("click", () => removeCard(card, job.id));
  $("#cards").prepend(card);
  $("#no-results").hidden = true;
  follow(card, job);
}

async function follow(card, job) {
  while (!["done", "failed", "cancelled"].includes(job.status)) {
    card.dataset.status = job.status;
    $(".status", card).textContent = job.status === "queued"
      ? `waiting in the queue (position ${job.queue_position})`
      : `generating… ${job.progress.tokens ? `${job.progress.tokens} tokens, ` : ""}` +
        `${job.progress.seconds.toFixed(1)} s`;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    try {
      job = await api(`/api/jobs/${job.id}?roll=0`);
    } catch (err) {
      job = { ...job, status: "failed", error: err.message };
    }
  }
  if (job.status === "done") {
    try {
      job = await api(`/api/jobs/${job.id}`);
    } catch (err) {
      job = { ...job, status: "failed", error: err.message };
    }
  }
  card.dataset.status = job.status;
  if (job.status !== "done") {
    $(".status", card).textContent = job.status === "cancelled" ? "cancelled" : job.error;
    return;
  }
  const result = job.result;
  const p = result.provenance;
  $(".status", card).textContent =
    `${p.new_notes ?? "?"} new notes in ${job.progress.seconds.toFixed(2)} s` +
    (job.waited_seconds > 0.5 ? ` (after ${job.waited_seconds.toFixed(1)} s in the queue)` : "");
  $(".result", card).hidden = false;
  drawRoll($("canvas", card), result.roll);
  $("audio", card).src = result.files.audio;
  $(".download-full", card).href = result.files.full;
  $(".download-new", card).href = result.files.continuation || result.files.part;
  $(".download-png", card).href = result.files.pianoroll;
  $(".download-json", card).href = result.files.provenance;
}

async function removeCard(card, id) {
  card.remove();
  if (!$("#cards").children.length) $("#no-results").hidden = false;
  await fetch(`/api/jobs/${id}`, { method: "DELETE" }).catch(() => {});
}

function setUp() {
  const drop = $("#drop");
  $("#file").addEventListener("change", (e) => e.target.files[0] && chooseSeed(e.target.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer.files[0]) chooseSeed(e.dataTransfer.files[0]);
  });
  const temperature = $("input[name=temperature]");
  temperature.addEventListener("input", () => { $("#temp-value").textContent = temperature.value; });
  $("#dice").addEventListener("click", () => {
    $("input[name=seed]").value = Math.floor(Math.random() * 1000000);
  });
  $("#form").addEventListener("submit", generate);
  window.addEventListener("resize", () => { if (seedInfo) drawRoll($("#seed-roll"), seedInfo.roll); });
  loadInfo().catch((err) => { $("#model").textContent = `cannot reach the server: ${err.message}`; });
}

setUp();
