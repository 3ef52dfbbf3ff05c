/**
 * The report page: one self-contained HTML file (CSS and vanilla JS inline, no network) that draws the data of a
 * report on one time line. The data rides in a JSON script element; the waveform is drawn on a canvas from peaks,
 * everything else is positioned DOM (so words can be clicked, searched and counted).
 */

/** A segment as the page takes it: `[startMs, endMs, cut]`. */
export type PageSegment = [number, number, string];

/** A window as the page takes it: `[startMs, endMs, cut, speculative (0/1), fate]`. */
export type PageWindow = [number, number, string, 0 | 1, string];

/** A word or partial as the page takes it: `[startMs, endMs, text]`. */
export type PageSpan = [number, number, string];

/** One final event on the page, with the partials that preceded it. */
export interface PageFinal {
  s: number;
  e: number;
  t: string;
  /** Index into {@link PageData.lanes}. */
  lane: number;
  emo?: string;
  lang?: string;
  /** End-of-speech → final latency, wall ms (paced runs). */
  eos?: number;
  /** Added latency, wall ms. */
  added?: number;
  words: PageSpan[];
  partials: PageSpan[];
}

/** Everything the page shows; built by `report()`. */
export interface PageData {
  title: string;
  durationMs: number;
  audio: { src: string; embedded: boolean; note: string };
  peaks: { sampleRate: number; bucketFrames: number[]; lengths: number[]; gzipBase64: string };
  vad: { source: string; segments: PageSegment[] };
  /** Speech as the service heard it (`speech-start` … `speech-end` events), `[startMs, endMs]`. */
  serviceSpeech: Array<[number, number]>;
  windows: PageWindow[] | null;
  lanes: string[];
  finals: PageFinal[];
  /** Partials after the last final of their lane (none followed them). */
  trailingPartials: PageSpan[];
  cues: Array<[number, number, string, string | null]>;
  generatedAt: string;
}

/** JSON safe inside a `<script>` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Render the report page.
 *
 * @param data - what to show.
 * @returns the whole HTML document.
 * @example
 * ```ts
 * writeFileSync('report.html', renderPage(data));
 * ```
 */
export function renderPage(data: PageData): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(data.title)} — earshot report</title>
<style>${CSS}</style>
</head>
<body>
<header>
  <h1><span class="brand">earshot</span> ${escapeHtml(data.title)}</h1>
  <div id="stats"></div>
  <div class="controls">
    <audio id="audio" controls preload="metadata"></audio>
    <span class="zoom"><button id="zoom-out" title="zoom out (-)">−</button><button id="zoom-in" title="zoom in (+)">+</button><button id="zoom-fit" title="whole file (0)">fit</button></span>
    <input id="search" type="search" placeholder="search the text" autocomplete="off"><span id="search-count"></span>
  </div>
  <div id="audio-note"></div>
</header>
<main>
  <div id="timeline"><div id="labels"></div><div id="scroll"><div id="track"><canvas id="wave"></canvas><div id="lanes"></div><div id="cursor"></div></div></div></div>
  <div id="legend"></div>
  <section id="panes"><div id="details"><p class="hint">Click a word or a final to see it here, with the partials that came before it. Click the waveform to play from there; ctrl + wheel zooms.</p></div><div id="results"></div></section>
</main>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${JS}</script>
</body>
</html>
`;
}

const CSS = String.raw`
:root { --bg:#fbfbfd; --fg:#1d2330; --muted:#6b7385; --line:#e3e6ee; --lane:#f3f5f9; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); font-size:13px; }
header { padding:10px 16px 6px; border-bottom:1px solid var(--line); background:#fff; position:sticky; top:0; z-index:10; }
h1 { font-size:16px; margin:0 0 4px; font-weight:600; }
.brand { color:#4e79a7; margin-right:6px; }
#stats { color:var(--muted); margin-bottom:6px; }
#stats b { color:var(--fg); font-weight:600; }
.controls { display:flex; gap:10px; align-items:center; flex-wrap:wrap; }
audio { height:32px; width:420px; max-width:100%; }
.zoom button { font-size:14px; min-width:30px; height:28px; margin-right:2px; border:1px solid var(--line); background:#fff; border-radius:4px; cursor:pointer; }
#search { height:28px; width:240px; padding:0 8px; border:1px solid #c9cfdc; border-radius:4px; }
#search-count { color:var(--muted); }
#audio-note { color:var(--muted); font-size:12px; }
main { padding:8px 16px 24px; }
#timeline { display:grid; grid-template-columns:120px 1fr; border:1px solid var(--line); background:#fff; }
#labels { border-right:1px solid var(--line); }
#labels div { display:flex; align-items:center; padding:0 8px; color:var(--muted); font-size:12px; border-bottom:1px solid var(--line); white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
#scroll { overflow-x:auto; overflow-y:hidden; position:relative; }
#track { position:relative; width:calc(var(--dur) * var(--pps) * 1px); }
#wave { display:block; position:sticky; left:0; height:110px; cursor:pointer; }
.lane { position:relative; border-bottom:1px solid var(--line); overflow:hidden; }
.lane:nth-child(odd) { background:var(--lane); }
.tile { position:absolute; top:0; bottom:0; left:calc(var(--ts) * var(--pps) * 1px); width:0; }
.tile[hidden] { display:none; }
.lc { position:sticky; left:0; display:none; cursor:pointer; }
.it { position:absolute; left:calc(var(--s) * var(--pps) * 1px); width:max(1px, calc(var(--d) * var(--pps) * 1px)); overflow:hidden; white-space:nowrap; text-overflow:clip; border-radius:2px; }
.vad { top:4px; height:14px; background:#59a14f; opacity:.75; border-right:1px solid #fff; }
.vad.cut-max-length { background:#f28e2b; }
.svc { top:4px; height:14px; background:#8cd17d; border-right:1px solid #fff; }
.win { height:14px; border:1px solid rgba(0,0,0,.25); font-size:10px; line-height:12px; padding-left:2px; color:#fff; }
.win.r0 { top:3px; } .win.r1 { top:19px; }
.win.cut-pause { background:#4e79a7; } .win.cut-max-length { background:#f28e2b; } .win.cut-end { background:#76b7b2; }
.win.spec { border:1px dashed #1d2330; }
.win.fate-revoked { background:repeating-linear-gradient(45deg,#e15759 0 4px,#f6c1c2 4px 8px); color:#7a1c1d; }
.word { top:3px; height:20px; font-size:11px; line-height:20px; padding:0 2px; cursor:pointer; background:var(--emo,#a0b4cc); color:#10131a; border-right:1px solid rgba(255,255,255,.8); }
.utt { top:3px; height:20px; font-size:11px; line-height:20px; padding:0 3px; cursor:pointer; background:var(--emo,#a0b4cc); opacity:.8; }
.word:hover { outline:2px solid #1d2330; z-index:2; }
.word.now { outline:2px solid #e15759; z-index:3; }
.hit { box-shadow: inset 0 0 0 2px #ffd400; background:#fff3a3 !important; }
.final { top:3px; height:20px; font-size:11px; line-height:18px; padding:0 3px; background:var(--emo, #fff); border:1px solid #9aa6bf; cursor:pointer; }
.final.sel { border-color:#e15759; box-shadow:0 0 0 1px #e15759; }
.partial { height:10px; background:#b07aa1; font-size:8px; line-height:10px; color:#fff; padding-left:1px; }
.partial.p0 { top:3px; } .partial.p1 { top:14px; background:#c9a3c0; }
.cue { top:3px; height:36px; font-size:10px; line-height:12px; padding:2px 3px; background:#fff; border:1px solid #c9cfdc; white-space:pre; }
.lat { height:11px; background:#e15759; opacity:.8; font-size:9px; line-height:11px; color:#fff; padding-left:2px; border-left:2px solid #7a1c1d; }
.lat.l1 { top:3px; } .lat.l0 { top:16px; }
#cursor { position:absolute; top:0; bottom:0; width:2px; background:#e15759; left:calc(var(--t, 0) * var(--pps) * 1px); pointer-events:none; z-index:5; }
#legend { margin:6px 0; color:var(--muted); font-size:12px; display:flex; flex-wrap:wrap; gap:4px 14px; }
#legend i { display:inline-block; width:12px; height:12px; border-radius:2px; vertical-align:-2px; margin-right:4px; }
#panes { display:grid; grid-template-columns:1fr 1fr; gap:16px; margin-top:8px; }
#details, #results { background:#fff; border:1px solid var(--line); padding:8px 12px; min-height:80px; max-height:320px; overflow:auto; }
#details h3, #results h3 { margin:0 0 6px; font-size:13px; }
#details .meta { color:var(--muted); margin-bottom:6px; }
#details ol { margin:4px 0; padding-left:20px; color:var(--muted); }
.hint { color:var(--muted); }
#results a { display:block; color:var(--fg); text-decoration:none; padding:2px 0; cursor:pointer; }
#results a:hover { background:var(--lane); }
#results a span { color:var(--muted); margin-right:8px; font-variant-numeric:tabular-nums; }
`;

// Plain ES2020 without template literals, so it sits inside this TypeScript template as is.
const JS = String.raw`
(function () {
  'use strict';
  var t0 = performance.now();
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var EMO = { neutral:'#a0b4cc', happy:'#f2c14e', sad:'#7aa6f0', angry:'#e15759', surprised:'#f28e2b', fearful:'#b39ddb', disgusted:'#8cd17d' };
  var dur = Math.max(D.durationMs, 1) / 1000;
  var audio = document.getElementById('audio');
  var scroll = document.getElementById('scroll');
  var track = document.getElementById('track');
  var lanesEl = document.getElementById('lanes');
  var labelsEl = document.getElementById('labels');
  var canvas = document.getElementById('wave');
  var cursor = document.getElementById('cursor');
  var WAVE_H = 110;
  var MAX_PPS = 400;
  var pps = 1;

  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }
  function clock(ms) {
    var t = Math.max(0, ms) / 1000, h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    var ss = (s < 10 ? '0' : '') + s.toFixed(s >= 10 || t >= 60 ? 1 : 2);
    return (h ? h + ':' + (m < 10 ? '0' : '') : '') + m + ':' + ss;
  }
  function tickLabel(t, step) {
    var h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = t % 60;
    var ss = step < 1 ? s.toFixed(1) : String(Math.round(s));
    if (s < 10) ss = '0' + ss;
    return (h ? h + ':' + (m < 10 ? '0' : '') : '') + m + ':' + ss;
  }
  // ---- lanes: every item is in the DOM, in tiles of TILE_MS shown only near the view when zoomed in to at most
  // DOM_MAX_SEC of audio; zoomed out further, each lane is drawn on its own canvas instead (fast at any length).
  var TILE_MS = 20000, DOM_MAX_SEC = 300;
  var nTiles = Math.max(1, Math.ceil(D.durationMs / TILE_MS));
  var lanes = [];
  function lane(label, height) {
    var l = { label: label, height: height, tiles: [], rects: [] };
    for (var i = 0; i < nTiles; i++) l.tiles.push([]);
    lanes.push(l);
    return l;
  }
  // One item: its element (class, extra style, attributes, content) and its rectangle for the overview canvas.
  function add(l, s, e, cls, style, attrs, inner, y, h, color) {
    var ti = Math.min(nTiles - 1, Math.max(0, Math.floor(s / TILE_MS))), ts = ti * TILE_MS;
    l.tiles[ti].push('<div class="it ' + cls + '" style="--s:' + ((s - ts) / 1000).toFixed(3) + ';--d:' + (Math.max(0, e - s) / 1000).toFixed(3) + (style ? ';' + style : '') + '"' + attrs + '>' + inner + '</div>');
    l.rects.push(s, e, y, h, color);
  }
  var CUT = { pause: '#4e79a7', 'max-length': '#f28e2b', end: '#76b7b2' };
  var L = lane('VAD (' + D.vad.source + ')', 22);
  D.vad.segments.forEach(function (v) {
    add(L, v[0], v[1], 'vad cut-' + v[2], '', ' data-start-ms="' + v[0] + '" data-end-ms="' + v[1] + '" data-cut="' + v[2] + '" title="speech ' + clock(v[0]) + '–' + clock(v[1]) + ' (' + v[2] + ')"', '', 4, 14, v[2] === 'max-length' ? '#f28e2b' : '#59a14f');
  });
  if (D.serviceSpeech.length) {
    L = lane('speech (service)', 22);
    D.serviceSpeech.forEach(function (v) {
      add(L, v[0], v[1], 'svc', '', ' data-start-ms="' + v[0] + '" data-end-ms="' + v[1] + '" title="the service heard speech ' + clock(v[0]) + '–' + clock(v[1]) + '"', '', 4, 14, '#8cd17d');
    });
  }
  if (D.windows) {
    L = lane('windows', 36);
    D.windows.forEach(function (w) {
      var row = w[4] === 'revoked' ? 1 : 0;
      var why = w[2] + (w[3] ? ', speculative' : '') + (w[4] === 'revoked' ? ', revoked' : '');
      add(L, w[0], w[1], 'win r' + row + ' cut-' + w[2] + (w[3] ? ' spec' : '') + ' fate-' + w[4], '', ' data-start-ms="' + w[0] + '" data-end-ms="' + w[1] + '" data-cut="' + w[2] + '" data-fate="' + w[4] + '" title="window ' + clock(w[0]) + '–' + clock(w[1]) + ' (' + why + ')"', esc(w[2]), row ? 19 : 3, 14, row ? '#e15759' : CUT[w[2]] || '#4e79a7');
    });
  }
  var words = [];
  D.lanes.forEach(function (name, li) {
    L = lane(name || 'words', 26);
    D.finals.forEach(function (f, fi) {
      if (f.lane !== li) return;
      var color = EMO[f.emo] || (f.emo ? '#c7b8a1' : '#a0b4cc');
      // Without word times the whole final stands in its speaker's lane.
      if (!f.words.length) add(L, f.s, f.e, 'utt', '--emo:' + color, ' data-f="' + fi + '" title="' + esc(f.t) + '"', esc(f.t), 3, 20, color);
      f.words.forEach(function (w) {
        var wi = words.length;
        words.push({ s: w[0], e: w[1], t: w[2], f: fi });
        // Kept lean (a long file has tens of thousands): the tooltip is made on hover.
        add(L, w[0], w[1], 'word', f.emo ? '--emo:' + color : '', ' id="w' + wi + '" data-i="' + wi + '" data-start-ms="' + w[0] + '"', esc(w[2]), 3, 20, color);
      });
    });
  });
  L = lane('finals', 26);
  var P = lane('partials', 26), partialCount = 0;
  // A partial is drawn over the audio it added since the one before it (its text grows over its whole span).
  function partials(list, title) {
    var prevEnd = -1;
    list.forEach(function (p, k) {
      partialCount++;
      var s = Math.max(p[0], prevEnd);
      prevEnd = Math.max(prevEnd, p[1]);
      add(P, s, p[1], 'partial p' + (k % 2), '', ' title="' + esc(title + clock(p[1]) + ': ' + p[2]) + '"', esc(p[2].split(' ').pop() || ''), k % 2 ? 14 : 3, 10, k % 2 ? '#c9a3c0' : '#b07aa1');
    });
  }
  D.finals.forEach(function (f, fi) {
    var emo = f.emo ? EMO[f.emo] || '#c7b8a1' : '';
    add(L, f.s, f.e, 'final', emo ? '--emo:' + emo : '', ' id="f' + fi + '" data-f="' + fi + '" data-start-ms="' + f.s + '" data-end-ms="' + f.e + '" title="' + esc(f.t + (f.emo ? ' · ' + f.emo : '')) + '"', esc(f.t), 3, 20, emo || '#9aa6bf');
    partials(f.partials, 'partial before final ' + (fi + 1) + ' at ');
  });
  partials(D.trailingPartials, 'partial (no final followed) at ');
  if (!partialCount) lanes.splice(lanes.indexOf(P), 1);
  L = lane('captions', 44);
  D.cues.forEach(function (c) {
    add(L, c[0], c[1], 'cue', '', ' data-start-ms="' + c[0] + '" data-end-ms="' + c[1] + '" title="' + esc(clock(c[0]) + ' → ' + clock(c[1]) + (c[3] ? ' · ' + c[3] : '')) + '"', esc(c[2]), 3, 36, '#c9cfdc');
  });
  var lats = [];
  L = lane('latency', 30);
  D.finals.forEach(function (f) {
    if (f.eos === undefined) return;
    var row = lats.push(f.eos) % 2;
    add(L, f.e, f.e + f.eos, 'lat l' + row, '', ' title="end of speech ' + clock(f.e) + ' → final: ' + Math.round(f.eos) + ' ms"', String(Math.round(f.eos)) + ' ms', row ? 3 : 16, 11, '#e15759');
  });
  if (!lats.length) lanes.pop();

  var laneHtml = [], labelHtml = ['<div style="height:' + WAVE_H + 'px">waveform</div>'];
  lanes.forEach(function (l) {
    laneHtml.push('<div class="lane" style="height:' + l.height + 'px"><canvas class="lc" height="' + l.height + '"></canvas>');
    l.tiles.forEach(function (items, ti) { if (items.length) laneHtml.push('<div class="tile" hidden data-ti="' + ti + '" style="--ts:' + (ti * TILE_MS / 1000) + '">' + items.join('') + '</div>'); });
    laneHtml.push('</div>');
    labelHtml.push('<div style="height:' + l.height + 'px" title="' + esc(l.label) + '">' + esc(l.label) + '</div>');
  });
  lanesEl.innerHTML = laneHtml.join('');
  labelsEl.innerHTML = labelHtml.join('');
  track.style.setProperty('--dur', dur.toFixed(3));
  var tilesAt = [];
  for (var ti = 0; ti < nTiles; ti++) tilesAt.push([]);
  Array.prototype.forEach.call(lanesEl.querySelectorAll('.tile'), function (el) { tilesAt[+el.dataset.ti].push(el); });
  var laneCanvases = lanesEl.querySelectorAll('canvas.lc');
  var shown = {}, domMode = null;
  // Show the tiles near the view (or none, zoomed out) and draw the overview canvases.
  function view() {
    var W = scroll.clientWidth, left = scroll.scrollLeft / pps, span = W / pps;
    var dom = span <= DOM_MAX_SEC;
    var a = dom ? Math.floor((left - span / 2) * 1000 / TILE_MS) : 0, b = dom ? Math.floor((left + span * 1.5) * 1000 / TILE_MS) : -1;
    Object.keys(shown).forEach(function (k) { if (k < a || k > b) { tilesAt[k].forEach(function (el) { el.hidden = true; }); delete shown[k]; } });
    for (var k = Math.max(0, a); k <= Math.min(nTiles - 1, b); k++) if (!shown[k]) { shown[k] = 1; tilesAt[k].forEach(function (el) { el.hidden = false; }); }
    if (dom !== domMode) { domMode = dom; Array.prototype.forEach.call(laneCanvases, function (c) { c.style.display = dom ? 'none' : 'block'; }); }
    if (!dom) lanes.forEach(function (l, i) { drawLane(laneCanvases[i], l, left, W); });
    draw();
  }
  function drawLane(c, l, left, W) {
    var dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(W * dpr)) { c.width = Math.round(W * dpr); c.height = Math.round(l.height * dpr); c.style.width = W + 'px'; c.style.height = l.height + 'px'; }
    var g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, l.height);
    var r = l.rects, lo = left * 1000, hi = (left + W / pps) * 1000;
    for (var i = 0; i < r.length; i += 5) {
      if (r[i + 1] < lo || r[i] > hi) continue;
      g.fillStyle = r[i + 4];
      g.fillRect((r[i] - lo) / 1000 * pps, r[i + 2], Math.max(1, (r[i + 1] - r[i]) / 1000 * pps), r[i + 3]);
    }
  }

  // ---- stats and legend ----
  function pct(a, q) { if (!a.length) return 0; var s = a.slice().sort(function (x, y) { return x - y; }); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; }
  var stats = ['<b>' + clock(D.durationMs) + '</b> of audio', '<b>' + words.length + '</b> words', '<b>' + D.finals.length + '</b> finals', '<b>' + partialCount + '</b> partials', '<b>' + D.vad.segments.length + '</b> VAD segments', '<b>' + D.cues.length + '</b> cues'];
  if (D.windows) {
    var spec = D.windows.filter(function (w) { return w[3]; }).length, rev = D.windows.filter(function (w) { return w[4] === 'revoked'; }).length;
    stats.push('<b>' + D.windows.length + '</b> windows (' + spec + ' speculative, ' + rev + ' revoked)');
  }
  if (lats.length) stats.push('end of speech → final: median <b>' + Math.round(pct(lats, 0.5)) + ' ms</b>, p95 <b>' + Math.round(pct(lats, 0.95)) + ' ms</b>');
  document.getElementById('stats').innerHTML = stats.join(' · ');
  var legend = ['<span><i style="background:#59a14f"></i>speech (VAD)</span><span><i style="background:#f28e2b"></i>VAD segment cut at its max length</span>'];
  if (D.windows) legend.push('<span><i style="background:#4e79a7"></i>window cut at a pause</span><span><i style="background:#f28e2b"></i>cut at max length</span><span><i style="background:#76b7b2"></i>cut at the end</span><span><i style="border:1px dashed #1d2330"></i>sent speculatively</span><span><i style="background:repeating-linear-gradient(45deg,#e15759 0 3px,#f6c1c2 3px 6px)"></i>revoked</span>');
  var emos = {};
  D.finals.forEach(function (f) { if (f.emo) emos[f.emo] = 1; });
  Object.keys(emos).forEach(function (e) { legend.push('<span><i style="background:' + (EMO[e] || '#c7b8a1') + '"></i>' + esc(e) + '</span>'); });
  if (partialCount) legend.push('<span><i style="background:#b07aa1"></i>partial</span>');
  if (lats.length) legend.push('<span><i style="background:#e15759"></i>end of speech → final (wall ms, paced run)</span>');
  document.getElementById('legend').innerHTML = legend.join('');
  document.getElementById('audio-note').textContent = D.audio.note;

  // ---- audio ----
  audio.src = D.audio.src;
  audio.addEventListener('error', function () { document.getElementById('audio-note').textContent = 'The audio could not be loaded (' + D.audio.note + ').'; });
  function playFrom(ms) {
    audio.currentTime = ms / 1000;
    setCursor(ms / 1000);
    var p = audio.play();
    if (p && p.catch) p.catch(function () { /* no audio output or not allowed: the cursor still moved */ });
  }

  // ---- zoom, scroll, waveform ----
  function fitPps() { return Math.max(scroll.clientWidth - 2, 100) / dur; }
  function setPps(next, anchorX) {
    var min = fitPps();
    next = Math.min(MAX_PPS, Math.max(min, next));
    if (anchorX === undefined) anchorX = scroll.clientWidth / 2;
    var at = (scroll.scrollLeft + anchorX) / pps;
    pps = next;
    track.style.setProperty('--pps', String(pps));
    scroll.scrollLeft = Math.max(0, at * pps - anchorX);
    view();
  }
  var peaks = null, gain = 1;
  var ctx = canvas.getContext('2d');
  function draw() {
    var W = scroll.clientWidth, H = WAVE_H, dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
      canvas.style.width = W + 'px'; canvas.style.height = H + 'px';
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    var left = scroll.scrollLeft / pps;
    // speech shading from the VAD
    ctx.fillStyle = 'rgba(89,161,79,0.10)';
    D.vad.segments.forEach(function (v) {
      var x0 = v[0] / 1000 * pps - scroll.scrollLeft, x1 = v[1] / 1000 * pps - scroll.scrollLeft;
      if (x1 >= 0 && x0 <= W) ctx.fillRect(x0, 18, Math.max(1, x1 - x0), H - 18);
    });
    // ruler
    var steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
    var step = steps[steps.length - 1];
    for (var k = 0; k < steps.length; k++) if (steps[k] * pps >= 70) { step = steps[k]; break; }
    ctx.fillStyle = '#6b7385'; ctx.strokeStyle = '#d5d9e3'; ctx.font = '10px system-ui, sans-serif';
    ctx.beginPath();
    for (var t = Math.floor(left / step) * step; t <= left + W / pps; t += step) {
      var x = Math.round((t - left) * pps) + 0.5;
      ctx.moveTo(x, 0); ctx.lineTo(x, 16);
      ctx.fillText(tickLabel(t, step), x + 3, 11);
    }
    ctx.stroke();
    if (!peaks) return;
    var mid = 18 + (H - 18) / 2, half = (H - 22) / 2;
    var framesPerPx = peaks.rate / pps;
    var L = peaks.levels[0];
    for (var i = 1; i < peaks.levels.length; i++) if (peaks.levels[i].bf <= framesPerPx) L = peaks.levels[i];
    var n = L.data.length / 2;
    ctx.fillStyle = '#4e79a7';
    for (var px = 0; px < W; px++) {
      var f0 = (left + px / pps) * peaks.rate, f1 = f0 + framesPerPx;
      var b0 = Math.floor(f0 / L.bf), b1 = Math.max(b0 + 1, Math.ceil(f1 / L.bf));
      if (b0 >= n) break;
      var lo = 127, hi = -128;
      for (var b = b0; b < b1 && b < n; b++) { if (L.data[2 * b] < lo) lo = L.data[2 * b]; if (L.data[2 * b + 1] > hi) hi = L.data[2 * b + 1]; }
      var y0 = mid - Math.min(1, hi * gain / 128) * half, y1 = mid - Math.max(-1, lo * gain / 128) * half;
      ctx.fillRect(px, y0, 1, Math.max(1, y1 - y0));
    }
  }
  function loadPeaks() {
    var bin = atob(D.peaks.gzipBase64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).arrayBuffer().then(function (buf) {
      var all = new Int8Array(buf), at = 0, levels = [], top = 1;
      D.peaks.lengths.forEach(function (len, li) {
        levels.push({ bf: D.peaks.bucketFrames[li], data: all.subarray(at, at + len) });
        at += len;
      });
      var lv = levels[levels.length - 1];
      if (lv) for (var k = 0; k < lv.data.length; k++) top = Math.max(top, Math.abs(lv.data[k]));
      gain = Math.min(8, 127 / top);
      peaks = { rate: D.peaks.sampleRate, levels: levels };
    });
  }

  // ---- cursor and follow ----
  var nowWord = -1;
  function wordAt(ms) {
    var lo = 0, hi = sorted.length - 1, found = -1;
    while (lo <= hi) { var m = (lo + hi) >> 1; if (sorted[m].s <= ms) { found = m; lo = m + 1; } else hi = m - 1; }
    return found >= 0 && sorted[found].e >= ms ? sorted[found].i : -1;
  }
  var sorted = words.map(function (w, i) { return { s: w.s, e: w.e, i: i }; }).sort(function (a, b) { return a.s - b.s; });
  function setCursor(sec) {
    cursor.style.setProperty('--t', sec.toFixed(3));
    var w = wordAt(sec * 1000);
    if (w !== nowWord) {
      if (nowWord >= 0) document.getElementById('w' + nowWord).classList.remove('now');
      if (w >= 0) document.getElementById('w' + w).classList.add('now');
      nowWord = w;
    }
    var x = sec * pps, view = scroll.clientWidth;
    if (!audio.paused && (x < scroll.scrollLeft || x > scroll.scrollLeft + view * 0.9)) scroll.scrollLeft = Math.max(0, x - view * 0.1);
  }
  function tick() { setCursor(audio.currentTime); if (!audio.paused) requestAnimationFrame(tick); }
  audio.addEventListener('play', function () { requestAnimationFrame(tick); });
  audio.addEventListener('seeked', function () { setCursor(audio.currentTime); });
  audio.addEventListener('timeupdate', function () { if (audio.paused) setCursor(audio.currentTime); });

  // ---- details ----
  var selected = -1;
  function showFinal(fi) {
    var f = D.finals[fi];
    if (!f) return;
    if (selected >= 0) document.getElementById('f' + selected).classList.remove('sel');
    selected = fi;
    document.getElementById('f' + fi).classList.add('sel');
    var meta = [clock(f.s) + ' – ' + clock(f.e)];
    if (D.lanes[f.lane]) meta.push(esc(D.lanes[f.lane]));
    if (f.emo) meta.push('emotion ' + esc(f.emo));
    if (f.lang) meta.push('language ' + esc(f.lang));
    if (f.eos !== undefined) meta.push('end of speech → final ' + Math.round(f.eos) + ' ms');
    if (f.added !== undefined) meta.push('added ' + f.added.toFixed(2) + ' ms');
    var html = '<h3>Final ' + (fi + 1) + '</h3><div class="meta">' + meta.join(' · ') + '</div><div>' + esc(f.t) + '</div>';
    if (f.partials.length) {
      html += '<div class="meta" style="margin-top:8px">' + f.partials.length + (f.partials.length === 1 ? ' partial' : ' partials') + ' before it:</div><ol>';
      f.partials.forEach(function (p) { html += '<li>' + clock(p[1]) + ' ' + esc(p[2]) + '</li>'; });
      html += '</ol>';
    }
    document.getElementById('details').innerHTML = html;
  }

  // ---- clicks ----
  lanesEl.addEventListener('mouseover', function (ev) {
    var el = ev.target;
    if (!el.classList.contains('word') || el.title) return;
    var w = words[+el.dataset.i], emo = D.finals[w.f].emo;
    el.title = w.t + ' ' + clock(w.s) + '–' + clock(w.e) + (emo ? ' · ' + emo : '');
  });
  lanesEl.addEventListener('click', function (ev) {
    if (ev.target.classList.contains('lc')) { playFrom((scroll.scrollLeft + ev.clientX - ev.target.getBoundingClientRect().left) / pps * 1000); return; }
    var el = ev.target.closest('.word, .final, .utt');
    if (!el) return;
    if (el.classList.contains('word')) {
      var w = words[+el.dataset.i];
      showFinal(w.f);
      playFrom(w.s);
    } else {
      var fi = +el.dataset.f;
      showFinal(fi);
      playFrom(D.finals[fi].s);
    }
  });
  canvas.addEventListener('click', function (ev) {
    var x = ev.clientX - canvas.getBoundingClientRect().left;
    playFrom((scroll.scrollLeft + x) / pps * 1000);
  });
  var viewQueued = false;
  scroll.addEventListener('scroll', function () { if (!viewQueued) { viewQueued = true; requestAnimationFrame(function () { viewQueued = false; view(); }); } });
  scroll.addEventListener('wheel', function (ev) {
    if (ev.ctrlKey || ev.metaKey) {
      ev.preventDefault();
      setPps(pps * Math.pow(1.0015, -ev.deltaY), ev.clientX - scroll.getBoundingClientRect().left);
    } else if (Math.abs(ev.deltaY) > Math.abs(ev.deltaX) && !ev.shiftKey) {
      ev.preventDefault();
      scroll.scrollLeft += ev.deltaY;
    }
  }, { passive: false });
  document.getElementById('zoom-in').onclick = function () { setPps(pps * 2); };
  document.getElementById('zoom-out').onclick = function () { setPps(pps / 2); };
  document.getElementById('zoom-fit').onclick = function () { setPps(fitPps()); };
  window.addEventListener('resize', function () { setPps(pps); });
  document.addEventListener('keydown', function (ev) {
    if (ev.target === search) return;
    if (ev.key === ' ') { ev.preventDefault(); if (audio.paused) { var p = audio.play(); if (p && p.catch) p.catch(function () {}); } else audio.pause(); }
    else if (ev.key === '+' || ev.key === '=') setPps(pps * 2);
    else if (ev.key === '-') setPps(pps / 2);
    else if (ev.key === '0') setPps(fitPps());
  });

  // ---- search ----
  var search = document.getElementById('search');
  var hits = [], hitAt = -1, marked = [];
  function runSearch() {
    marked.forEach(function (el) { el.classList.remove('hit'); });
    marked = []; hits = []; hitAt = -1;
    var q = search.value.trim().toLowerCase();
    var out = document.getElementById('results');
    if (!q) { out.innerHTML = ''; document.getElementById('search-count').textContent = ''; return; }
    var phrase = q.indexOf(' ') >= 0;
    if (phrase) {
      D.finals.forEach(function (f, fi) { if (f.t.toLowerCase().indexOf(q) >= 0) hits.push({ ms: f.s, el: document.getElementById('f' + fi), text: f.t, f: fi }); });
    } else {
      words.forEach(function (w, wi) { if (w.t.toLowerCase().indexOf(q) >= 0) hits.push({ ms: w.s, el: document.getElementById('w' + wi), text: D.finals[w.f].t, f: w.f }); });
      if (!words.length) D.finals.forEach(function (f, fi) { if (f.t.toLowerCase().indexOf(q) >= 0) hits.push({ ms: f.s, el: document.getElementById('f' + fi), text: f.t, f: fi }); });
    }
    hits.sort(function (a, b) { return a.ms - b.ms; });
    hits.forEach(function (h) { h.el.classList.add('hit'); marked.push(h.el); });
    document.getElementById('search-count').textContent = hits.length + (hits.length === 1 ? ' match' : ' matches');
    var html = ['<h3>' + hits.length + (hits.length === 1 ? ' match' : ' matches') + ' for “' + esc(q) + '”</h3>'];
    hits.slice(0, 200).forEach(function (h, k) { html.push('<a data-k="' + k + '"><span>' + clock(h.ms) + '</span>' + esc(h.text) + '</a>'); });
    out.innerHTML = html.join('');
  }
  function goHit(k) {
    var h = hits[k];
    if (!h) return;
    hitAt = k;
    if (!domMode) setPps(scroll.clientWidth / 60);
    audio.currentTime = h.ms / 1000;
    setCursor(h.ms / 1000);
    scroll.scrollLeft = Math.max(0, h.ms / 1000 * pps - scroll.clientWidth / 3);
    showFinal(h.f);
  }
  var searchTimer = 0;
  search.addEventListener('input', function () { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 120); });
  search.addEventListener('keydown', function (ev) { if (ev.key === 'Enter') { clearTimeout(searchTimer); if (!hits.length) runSearch(); goHit((hitAt + 1) % Math.max(1, hits.length)); } });
  document.getElementById('results').addEventListener('click', function (ev) { var a = ev.target.closest('a'); if (a) goHit(+a.dataset.k); });

  // ---- first paint ----
  pps = fitPps();
  track.style.setProperty('--pps', String(pps));
  view();
  loadPeaks().then(function () {
    draw();
    document.body.dataset.renderMs = String(Math.round(performance.now() - t0));
    document.body.dataset.ready = '1';
  }, function (err) {
    document.getElementById('audio-note').textContent = 'waveform unavailable: ' + err;
    document.body.dataset.ready = '1';
  });
})();
`;
