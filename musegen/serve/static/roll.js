// Piano roll on a canvas, from the columns the API sends (start, duration, pitch, track).
// Notes take their track's colour; the new material lies on an orange ground, its notes
// outlined in orange: the bars from `split` on (continue), or the `region` [start, end) of the
// tracks `new_tracks` (infill, arrange).
"use strict";

const TRACK_COLOURS = ["#3d6fb6", "#2e8b6e", "#8a5cb8", "#b8860b", "#c0506a", "#4a8fa8",
                       "#6b8e23", "#7a6a5a"];
const NEW_COLOUR = "#d9631e";

function trackColour(i) {
  return TRACK_COLOURS[i % TRACK_COLOURS.length];
}

function drawRoll(canvas, roll) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 400;
  const height = canvas.clientHeight || Number(canvas.getAttribute("height")) || 160;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const n = roll.start.length;
  const end = Math.max(roll.end, 1);
  let low = 127, high = 0;
  for (let i = 0; i < n; i++) {
    low = Math.min(low, roll.pitch[i]);
    high = Math.max(high, roll.pitch[i]);
  }
  if (n === 0) { low = 48; high = 72; }
  low = Math.max(0, low - 2);
  high = Math.min(127, high + 2);
  const rowH = height / (high - low + 1);
  const x = (tick) => (tick / end) * width;
  const y = (pitch) => (high - pitch) * rowH;

  let region = null;  // [start, end) ticks of the new material
  if (roll.region) region = roll.region;
  else if (roll.split !== null && roll.split !== undefined) region = [roll.split, end];
  const newTracks = roll.new_tracks ? new Set(roll.new_tracks) : null;
  if (region) {  // the new material's background
    g.fillStyle = "#fbe9dc";
    g.fillRect(x(region[0]), 0, x(region[1]) - x(region[0]), height);
  }
  g.strokeStyle = "#e3e0d9";  // C rows, then bar lines
  g.lineWidth = 1;
  for (let p = low; p <= high; p++) {
    if (p % 12 === 0) {
      g.beginPath(); g.moveTo(0, y(p) + rowH); g.lineTo(width, y(p) + rowH); g.stroke();
    }
  }
  g.strokeStyle = "#cfcbc2";
  for (const tick of roll.bar_lines) {
    g.beginPath(); g.moveTo(x(tick) + 0.5, 0); g.lineTo(x(tick) + 0.5, height); g.stroke();
  }
  const drums = new Set(roll.drums || []);
  for (let i = 0; i < n; i++) {
    const isNew = region && roll.start[i] >= region[0] && roll.start[i] < region[1] &&
      (!newTracks || newTracks.has(roll.track[i]));
    g.fillStyle = trackColour(roll.track[i]);
    g.globalAlpha = drums.has(roll.track[i]) ? 0.5 : 0.9;
    const w = Math.max(1.5, x(roll.duration[i]) - 0.5);
    const h = Math.max(1.5, rowH - 1);
    g.fillRect(x(roll.start[i]), y(roll.pitch[i]) + 0.5, w, h);
    if (isNew) {
      g.strokeStyle = NEW_COLOUR;
      g.lineWidth = 1;
      g.strokeRect(x(roll.start[i]) + 0.5, y(roll.pitch[i]) + 1, w - 1, h - 1);
    }
  }
  g.globalAlpha = 1;
  if (region) {
    g.strokeStyle = NEW_COLOUR;
    g.lineWidth = 2;
    const edges = roll.region ? region : [region[0]];
    for (const tick of edges) {
      g.beginPath(); g.moveTo(x(tick), 0); g.lineTo(x(tick), height); g.stroke();
    }
    g.fillStyle = NEW_COLOUR;
    g.font = "11px system-ui, sans-serif";
    g.fillText(roll.region ? "new notes" : "new bars →", x(region[0]) + 4, 12);
  }
  if (roll.notes_shown < roll.notes_total) {
    g.fillStyle = "#6b6b6b";
    g.font = "11px system-ui, sans-serif";
    g.fillText(`${roll.notes_shown} of ${roll.notes_total} notes shown`, 4, height - 4);
  }
}
