#include "serve/page.h"

namespace imagefit {

namespace {

// Element ids and data-* attributes are what tests/serve/browser_check.js reads: keep them stable.
// body[data-state]: loading → ready → busy → done | error.
const char* const kPage = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imagefit</title>
<link rel="icon" href="data:,">
<style>
:root { --bg: #f5f6f8; --card: #fff; --ink: #1d2330; --muted: #667085; --accent: #2f6fdd;
        --accent-soft: #dde7fb; --line: #e3e6eb; --bad: #c0362c; --track: #edf0f4; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
       background: var(--bg); color: var(--ink); }
header { padding: 16px 28px; background: var(--card); border-bottom: 1px solid var(--line);
         display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; }
header h1 { font-size: 20px; margin: 0; letter-spacing: -.01em; }
header .model { color: var(--muted); }
main { max-width: 1100px; margin: 24px auto; padding: 0 20px; display: grid;
       grid-template-columns: minmax(280px, 1fr) minmax(300px, 1fr); gap: 20px; }
@media (max-width: 760px) { main { grid-template-columns: 1fr; } }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 18px; min-width: 0; }
.wide { grid-column: 1 / -1; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 10px; }
#drop { border: 2px dashed #b8c0cc; border-radius: 10px; min-height: 280px; display: flex; flex-direction: column;
        align-items: center; justify-content: center; text-align: center; cursor: pointer; padding: 14px;
        transition: background .15s, border-color .15s; outline: none; }
#drop:focus-visible { border-color: var(--accent); }
#drop.over { background: var(--accent-soft); border-color: var(--accent); }
#drop img { width: min(100%, 360px); height: auto; max-height: 380px; object-fit: contain; border-radius: 6px;
            display: none; }
#drop.has-image img { display: block; }
#drop.has-image .hint { display: none; }
#drop .again { display: none; color: var(--muted); font-size: 13px; margin-top: 10px; }
#drop.has-image .again { display: block; }
.hint strong { color: var(--accent); }
.hint p { margin: 4px 0; }
.hint .small { color: var(--muted); font-size: 13px; }
#file { display: none; }
#prediction { font-size: 26px; font-weight: 650; min-height: 38px; overflow-wrap: anywhere; }
#pred-prob { color: var(--muted); font-weight: 500; font-size: 18px; margin-left: 10px; }
#bars { list-style: none; margin: 12px 0 0; padding: 0; }
.bar-row { display: grid; grid-template-columns: minmax(90px, 36%) 1fr 62px; gap: 10px; align-items: center; margin: 9px 0; }
.bar-label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar-track { display: block; background: var(--track); border-radius: 4px; height: 18px; overflow: hidden; }
.bar-fill { display: block; background: #93b3ec; height: 100%; width: 0; }
.bar-row:first-child .bar-fill { background: var(--accent); }
.bar-row:first-child .bar-label { font-weight: 600; }
.bar-value { text-align: right; font-variant-numeric: tabular-nums; color: var(--muted); }
#status { min-height: 22px; color: var(--muted); margin-top: 12px; overflow-wrap: anywhere; }
#status.error { color: var(--bad); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 16px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 14px; }
.chip { background: var(--track); border-radius: 999px; padding: 2px 10px; font-size: 13px; }
code { background: var(--track); padding: 2px 6px; border-radius: 4px; font-size: 13px; overflow-wrap: anywhere; }
</style>
</head>
<body data-state="loading">
<header><h1>imagefit</h1><span class="model" id="model-name">loading the model…</span></header>
<main>
  <section class="card">
    <h2>Image</h2>
    <div id="drop" tabindex="0" role="button" aria-label="Choose an image to classify">
      <img id="preview" alt="the image being classified">
      <div class="hint">
        <p><strong>Drop an image here</strong> or click to choose one</p>
        <p class="small">JPEG, PNG, BMP, WebP or TIFF; you can also paste an image</p>
      </div>
      <div class="again">drop or click for another image</div>
    </div>
    <input type="file" id="file" accept="image/*">
  </section>
  <section class="card">
    <h2>Prediction</h2>
    <div id="prediction"><span id="pred-label"></span><span id="pred-prob"></span></div>
    <ol id="bars"></ol>
    <div id="status">Choose an image to classify it.</div>
  </section>
  <section class="card wide">
    <h2>Model</h2>
    <dl class="facts" id="facts"></dl>
    <h2>Classes (<span id="class-count">0</span>)</h2>
    <div class="chips" id="classes"></div>
    <h2>API</h2>
    <code id="curl">curl -F file=@photo.jpg /api/predict</code>
  </section>
</main>
<script>
'use strict';
const $ = id => document.getElementById(id);
let model = null, busy = false, pending = null, objectUrl = null;

function setState(s) { document.body.dataset.state = s; }
function say(text, isError) { const s = $('status'); s.textContent = text; s.className = isError ? 'error' : ''; }
function pct(p) { return (100 * p).toFixed(1) + '%'; }
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function fact(dl, name, value) {
  if (value === undefined || value === null || value === '') return;
  dl.append(el('dt', '', name), el('dd', '', String(value)));
}

async function loadModel() {
  try {
    const r = await fetch('/api/model');
    const m = await r.json();
    if (!r.ok) throw new Error(m.error || ('HTTP ' + r.status));
    model = m;
    $('model-name').textContent = m.model + ' · ' + m.architecture + ' · ' + m.input_size[0] + '×' + m.input_size[1];
    document.title = m.model + ' · imagefit';
    const dl = $('facts');
    dl.textContent = '';
    fact(dl, 'model file', m.model);
    fact(dl, 'architecture', m.architecture + (m.alpha ? ' (alpha ' + m.alpha + ')' : ''));
    fact(dl, 'input', m.input.width + '×' + m.input.height + ' RGB, normalization ' + m.normalization +
                      (m.input.formula ? ' (' + m.input.formula + ')' : ''));
    const t = m.training || {};
    if (t.val_accuracy != null) fact(dl, 'validation accuracy', pct(t.val_accuracy));
    if (t.test_accuracy != null) fact(dl, 'test accuracy', pct(t.test_accuracy));
    if (t.best_epoch != null) fact(dl, 'best epoch', t.best_epoch + (t.epochs_run ? ' of ' + t.epochs_run : ''));
    if (m.serving) fact(dl, 'device', m.serving.device);
    $('class-count').textContent = m.classes.length;
    const chips = $('classes');
    chips.textContent = '';
    for (const c of m.classes) chips.append(el('span', 'chip', c));
    $('curl').textContent = "curl -F file=@photo.jpg '" + location.origin + "/api/predict?top_k=5'";
    setState('ready');
  } catch (e) {
    say('Cannot load the model description: ' + e.message, true);
    setState('error');
  }
}

function show(r) {
  $('pred-label').textContent = r.label;
  $('pred-prob').textContent = pct(r.probability);
  const ol = $('bars');
  ol.textContent = '';
  for (const t of r.top) {
    const li = el('li', 'bar-row');
    li.dataset.label = t.label;
    li.dataset.probability = t.probability;
    const label = el('span', 'bar-label', t.label);
    label.title = t.label;
    const track = el('span', 'bar-track');
    const fill = el('span', 'bar-fill');
    fill.style.width = Math.max(0, Math.min(100, 100 * t.probability)).toFixed(2) + '%';
    track.append(fill);
    li.append(label, track, el('span', 'bar-value', pct(t.probability)));
    ol.append(li);
  }
}

async function classify(file) {
  if (!file) return;
  if (busy) { pending = file; return; }
  busy = true;
  setState('busy');
  const name = file.name || 'the image';
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = URL.createObjectURL(file);
  $('preview').src = objectUrl;
  $('drop').classList.add('has-image');
  say('Classifying ' + name + '…');
  try {
    const max = model && model.serving ? model.serving.max_body_bytes : 0;
    if (max && file.size > max)
      throw new Error(name + ' is ' + (file.size / 1048576).toFixed(1) + ' MB; this server takes at most ' +
                      (max / 1048576).toFixed(0) + ' MB');
    // A form upload, so that the server's messages name the file.
    const form = new FormData();
    form.append('file', file, file.name || 'image');
    const r = await fetch('/api/predict?top_k=5', { method: 'POST', body: form });
    let body = {};
    try { body = await r.json(); } catch (_) { }
    if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
    show(body);
    say(name + ': classified in ' + body.ms.toFixed(1) + ' ms on the server');
    setState('done');
  } catch (e) {
    $('pred-label').textContent = '';
    $('pred-prob').textContent = '';
    $('bars').textContent = '';
    // Server messages name the file already.
    say(e instanceof TypeError ? 'Cannot reach the server (' + e.message + ')' : 'Could not classify: ' + e.message, true);
    setState('error');
  } finally {
    busy = false;
    if (pending) { const f = pending; pending = null; classify(f); }
  }
}

const drop = $('drop'), input = $('file');
$('preview').addEventListener('error', () => drop.classList.remove('has-image'));  // not an image the browser shows
drop.addEventListener('click', () => input.click());
drop.addEventListener('keydown', e => {
  if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); input.click(); }
});
input.addEventListener('change', () => { const f = input.files[0]; input.value = ''; classify(f); });
for (const t of ['dragenter', 'dragover']) drop.addEventListener(t, e => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
// A file dropped anywhere on the page is classified (and never opened by the browser instead).
window.addEventListener('dragover', e => e.preventDefault());
window.addEventListener('drop', e => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer && e.dataTransfer.files[0];
  if (f) classify(f);
});
document.addEventListener('paste', e => {
  for (const item of (e.clipboardData ? e.clipboardData.items : []))
    if (item.kind === 'file') { classify(item.getAsFile()); break; }
});
loadModel();
</script>
</body>
</html>
)PAGE";

}  // namespace

const std::string& index_html() {
  static const std::string page = kPage;
  return page;
}

}  // namespace imagefit
