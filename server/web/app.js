// app.js - the page: the input, the tokens, the tabs, the layer and head choice, and the
// data the views share. Data is fetched lazily from POST /encode, base64-encoded, and only
// for the layers and heads a view shows: the first answer holds the tokens and one layer's
// attention; the other layers, the scores and the hidden states come when a view needs them.
import { ApiError, codePointIndex, encode, encodeText, getFeatures, getModel, modelText, setApiKey } from './api.js';
import { h, headColor, saveText } from './draw.js';
import { AttentionView } from './attention.js';
import { LayersView } from './layers.js';
import { QkView } from './qk.js';
import { ModelView } from './model.js';
import { NeuronView } from './neuron.js';
import { FlowView } from './flow.js';
import { AblateView } from './ablate.js';
import { LensView } from './lens.js';
import { StepsView } from './steps.js';

const $ = (id) => document.getElementById(id);

const STEPS_MAX_D = 16; // the step-by-step tab prints every matrix: small models only

// The first token of the second sentence in an /encode answer, -1 without one.
const pairStartOf = (json) => (Number.isInteger(json.pair_start) ? json.pair_start : -1);

const EXAMPLES = [
    'The animal didn’t cross the street because it was too tired.',
    'Hello World',
    'The cat sat on the mat.',
    'Déjà vu: a naïve café serves crème brûlée.',
];

// Everything the views read. Caches hold Float32Arrays of the current input only.
const S = {
    model: null,         // GET /model
    features: null,      // what the server offers beyond the first API (api.js getFeatures)
    gen: 0,              // bumped by every new input: answers of older ones are dropped
    input: null,         // { body: the /encode fields naming the input, text, mode }
    tokens: [],          // [{id, text, start, end, special}]
    pairStart: -1,       // the first token of the second sentence, -1 without one
    T: 0,
    layer: 0,            // attention layer 0..L-1
    head: 0,             // 0..H-1 or 'avg'
    hs: 0,               // hidden_states index 0..L (Inside the layers)
    focus: -1,           // the token under the pointer, -1 for none
    qrow: 0,             // the query row explained in Queries & keys
    tab: 'attention',
    attn: new Map(),     // layer -> (H, T, T)
    scores: new Map(),   // layer -> (H, T, T)
    hidden: null,        // (L+1, T, D)
    pending: new Map(),  // request key -> promise
};

let controller = null; // aborts the requests of an input when a newer one is sent
const views = {};

// ---- data --------------------------------------------------------------------------

function once(key, make) {
    const k = `${S.gen}:${key}`;
    if (!S.pending.has(k)) S.pending.set(k, make().finally(() => S.pending.delete(k)));
    return S.pending.get(k);
}

async function fetchMaps(kind, layers) {
    const gen = S.gen, store = kind === 'attention' ? S.attn : S.scores;
    const missing = layers.filter((l) => !store.has(l));
    if (!missing.length) return;
    await once(`${kind}:${missing}`, async () => {
        const { json } = await encode({ ...S.input.body, outputs: [kind], layers: missing, encoding: 'base64' }, controller.signal);
        if (gen !== S.gen) return;
        const [, H, T] = json[kind].shape, per = H * T * T;
        missing.forEach((l, k) => store.set(l, json[kind].data.subarray(k * per, (k + 1) * per)));
    });
}

const app = {
    S,
    // POST /encode on the current input with more fields; null when a newer input came.
    async encode(extra) {
        const gen = S.gen;
        const { json } = await encode({ ...S.input.body, encoding: 'base64', ...extra }, controller.signal);
        return gen === S.gen ? json : null;
    },
    has: (output) => S.features?.outputs.has(output) ?? false,
    // The message a view shows when the server lacks what it needs.
    missing: (what) => h('p', { class: 'missing', 'data-testid': 'missing' }, `This server does not provide ${what}, so this view cannot be drawn here.`),
    needAttention: (layers) => fetchMaps('attention', layers),
    needScores: (layers) => fetchMaps('scores', layers),
    async needHidden() {
        if (S.hidden) return;
        const gen = S.gen;
        await once('hidden', async () => {
            const { json } = await encode({ ...S.input.body, outputs: ['hidden_states'], encoding: 'base64' }, controller.signal);
            if (gen === S.gen) S.hidden = json.hidden_states.data;
        });
    },
    // The (T, T) map of a layer and head ('avg': the mean over heads), or null.
    map(store, l, head) {
        const all = store.get(l);
        if (!all) return null;
        const T = S.T, per = T * T, H = S.model.n_heads;
        if (head !== 'avg') return all.subarray(head * per, (head + 1) * per);
        const key = `avg${l}`;
        if (!store[key]) {
            const m = new Float32Array(per);
            for (let k = 0; k < H; k++) for (let i = 0; i < per; i++) m[i] += all[k * per + i] / H;
            store[key] = m;
        }
        return store[key];
    },
    label(i) {
        const t = S.tokens[i];
        return t ? (t.text ?? `#${t.id}`) : '';
    },
    labels() { return S.tokens.map((_, i) => app.label(i)); },
    // Heatmap options marking the second sentence on a T x T map (rows only: tokens x other).
    split: (square = true) => (S.pairStart > 0 ? { splitRow: S.pairStart, splitCol: square ? S.pairStart : -1 } : { splitRow: -1, splitCol: -1 }),
    setLayer(l) {
        const L = S.model.n_layers;
        l = Math.max(0, Math.min(L - 1, l));
        if (l === S.layer) return;
        S.layer = l;
        syncToolbar();
        saveHash();
        renderView();
    },
    setHead(hd) {
        if (hd === S.head) return;
        S.head = hd;
        syncToolbar();
        saveHash();
        renderView();
    },
    setHs(i) {
        S.hs = Math.max(0, Math.min(S.model.n_layers, i));
        saveHash();
        renderView();
    },
    setQrow(i) {
        S.qrow = i;
        renderView();
    },
    setFocus(i) {
        if (i === S.focus) return;
        S.focus = i;
        for (const el of document.querySelectorAll('[data-i].focus')) el.classList.remove('focus');
        if (i >= 0) for (const el of document.querySelectorAll(`[data-i="${i}"]`)) el.classList.add('focus');
        views[S.tab]?.setFocus?.(i);
    },
    error: (e) => showError(e),
    setTab: (t) => selectTab(t),
};

// ---- errors: always a message, never a blank page --------------------------------------

function showError(e) {
    if (e?.name === 'AbortError') return;
    const box = $('error');
    const title = e instanceof ApiError ? (e.status ? `${e.status} · ${e.title}` : e.title) : 'Something went wrong in the page';
    const parts = [h('b', {}, title), h('div', { class: 'msg' }, e?.message ?? String(e))];
    if (e?.hint) parts.push(h('div', { class: 'hint' }, e.hint));
    if (e?.status === 401) {
        const key = h('input', { type: 'password', placeholder: 'API key', 'aria-label': 'API key' });
        parts.push(h('form', {
            class: 'key', onsubmit: (ev) => {
                ev.preventDefault();
                setApiKey(key.value.trim());
                hideError();
                start();
            },
        }, key, h('button', { type: 'submit', class: 'mini' }, 'Use key')));
    }
    parts.push(h('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss', onclick: hideError }, '×'));
    box.replaceChildren(...parts);
    box.hidden = false;
    setStatus('');
}
function hideError() { $('error').hidden = true; }
function setStatus(s, busy = false) {
    $('status').textContent = s;
    document.body.classList.toggle('busy', busy);
}

window.addEventListener('error', (ev) => showError(ev.error ?? new Error(ev.message)));
window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));

// ---- the input --------------------------------------------------------------------------

function mode() { return document.querySelector('input[name=mode]:checked').value; }

// The /encode fields naming the input, or an ApiError for ids that are not ids.
function readInput() {
    const raw = $('text').value, truncate = $('truncate').checked;
    if (mode() === 'text') {
        const pair = $('text-pair').value;
        const body = { text: raw, add_special_tokens: $('special').checked, truncate };
        if (pair.trim()) body.text_pair = pair;
        return { body, text: raw, pair: body.text_pair ?? null, mode: 'text' };
    }
    const s = raw.trim().replace(/^\[|\]$/g, '');
    const parts = s.split(/[\s,]+/).filter(Boolean);
    const bad = parts.find((p) => !/^\d+$/.test(p));
    if (bad !== undefined || !parts.length)
        throw new ApiError(0, 'Not token ids', bad !== undefined ? `“${bad.slice(0, 40)}” is not a token id` : 'no token ids were given',
            'Token ids are whole numbers separated by spaces or commas, e.g. 2 356 280 3. Or choose “Text”.');
    return { body: { tokens: parts.map(Number), truncate }, text: null, mode: 'ids' };
}

async function submit() {
    let input;
    try { input = readInput(); } catch (e) { showError(e); return; }
    controller?.abort();
    controller = new AbortController();
    const gen = ++S.gen;
    setStatus('running the encoder…', true);
    const t0 = performance.now();
    try {
        const layer = Math.min(S.layer, S.model.n_layers - 1);
        const { json, bytes } = await encode({ ...input.body, outputs: ['tokens', 'attention'], layers: [layer], encoding: 'base64' }, controller.signal);
        if (gen !== S.gen) return;
        hideError();
        Object.assign(S, {
            input, tokens: json.tokens, T: json.tokens.length, pairStart: pairStartOf(json), layer, focus: -1, qrow: 0,
            attn: new Map([[layer, json.attention.data]]), scores: new Map(), hidden: null,
        });
        if (S.hs > S.model.n_layers) S.hs = S.model.n_layers;
        const ms = performance.now() - t0;
        $('tokens-meta').textContent = `${S.T} tokens · ${ms.toFixed(0)} ms · ${(bytes / 1024).toFixed(0)} KB`;
        setStatus('');
        renderTokens();
        for (const id of ['tokens-card', 'tabs']) $(id).hidden = false;
        $('welcome').hidden = true;
        for (const v of Object.values(views)) v.reset?.();
        saveHash();
        selectTab(S.tab);
    } catch (e) {
        if (gen === S.gen) showError(e);
    } finally {
        if (gen === S.gen) document.body.classList.remove('busy');
    }
}

// ---- tokens and their spans in the text ----------------------------------------------------

function renderTokens() {
    const src = $('source'), list = $('tokens');
    const hover = (i) => () => app.setFocus(i);
    const out = () => app.setFocus(-1);
    if (S.input.mode === 'text') {
        // Offsets count in their own sentence: the second one's from its own start.
        const spans = (text, from, to) => {
            const at = codePointIndex(text), parts = [];
            let pos = 0; // UTF-16
            S.tokens.slice(from, to).forEach((t, k) => {
                const i = from + k;
                if (t.special || t.start === null || t.end <= t.start) return;
                const a = at[t.start], b = at[t.end];
                if (a === undefined || b === undefined || a < pos) return;
                if (a > pos) parts.push(text.slice(pos, a));
                parts.push(h('span', { class: `span c${i % 6}`, 'data-i': i, onmouseenter: hover(i), onmouseleave: out, title: `token ${i}: id ${t.id}` }, text.slice(a, b)));
                pos = b;
            });
            if (pos < text.length) parts.push(text.slice(pos));
            return parts;
        };
        const b = S.pairStart > 0 && S.input.pair !== null ? S.pairStart : S.T;
        src.replaceChildren(...spans(S.input.text, 0, b),
            ...(b < S.T ? [h('span', { class: 'pair-sep', title: 'the second sentence starts here' }, ' ‖ B: '), ...spans(S.input.pair, b, S.T)] : []));
    } else {
        src.replaceChildren(h('span', { class: 'meta' }, 'Token ids given: there is no text, so no character spans.'));
    }
    list.replaceChildren(...S.tokens.map((t, i) => h('span', {
        class: `chip${t.special ? ' special' : ''}${i === S.pairStart ? ' pair-start' : ''} c${i % 6}`, 'data-i': i, onmouseenter: hover(i), onmouseleave: out,
        onclick: () => app.setQrow(i),
        title: `token ${i} · id ${t.id}${t.start !== null && !t.special ? ` · characters ${t.start}–${t.end}` : ''}${t.special ? ' · special' : ''}`,
    }, h('span', { class: 'tt' }, app.label(i)), h('span', { class: 'id' }, t.id))));
}

// ---- tabs, layer and head ------------------------------------------------------------------

const TOOLBAR_TABS = ['attention', 'qk', 'neurons', 'flow'];

function selectTab(tab) {
    S.tab = tab;
    for (const b of document.querySelectorAll('#tabs [data-tab]')) b.classList.toggle('on', b.dataset.tab === tab);
    $('toolbar').hidden = !S.input || !TOOLBAR_TABS.includes(tab);
    for (const [name, v] of Object.entries(views)) v.el.hidden = name !== tab;
    saveHash();
    renderView();
}

function renderView() {
    if (!S.input && S.tab !== 'model') return;
    const v = views[S.tab];
    v.el.hidden = false;
    Promise.resolve(v.render()).catch(showError);
}

function buildToolbar() {
    const L = S.model.n_layers, H = S.model.n_heads;
    const range = $('layer');
    range.max = String(L - 1);
    range.addEventListener('input', () => app.setLayer(Number(range.value)));
    $('layer-prev').addEventListener('click', () => app.setLayer(S.layer - 1));
    $('layer-next').addEventListener('click', () => app.setLayer(S.layer + 1));
    const heads = $('heads');
    const mk = (hd, label, title) => {
        const b = h('button', { type: 'button', class: 'head', 'data-head': hd, title, onclick: () => app.setHead(hd) },
            h('i', { class: 'sw' }), label);
        b.querySelector('.sw').style.background = headColor(hd);
        return b;
    };
    heads.replaceChildren(h('span', { class: 'lbl' }, 'Head'), mk('avg', 'avg', 'The average of every head of the layer'),
        ...Array.from({ length: H }, (_, k) => mk(k, String(k), `Head ${k}`)));
    syncToolbar();
}

function syncToolbar() {
    $('layer').value = String(S.layer);
    $('layer-out').textContent = `${S.layer} / ${S.model.n_layers - 1}`;
    for (const b of document.querySelectorAll('#heads .head')) b.classList.toggle('on', b.dataset.head === String(S.head));
}

document.addEventListener('keydown', (ev) => {
    if (!S.input || ev.target.closest?.('textarea, input[type=text], input[type=password]') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (!TOOLBAR_TABS.includes(S.tab)) return;
    const d = ev.key === 'ArrowRight' ? 1 : ev.key === 'ArrowLeft' ? -1 : 0;
    if (!d || ev.target.matches?.('input[type=range]')) return;
    ev.preventDefault();
    if (!ev.shiftKey) { app.setLayer(S.layer + d); return; }
    const H = S.model.n_heads, order = ['avg', ...Array.from({ length: H }, (_, k) => k)];
    app.setHead(order[(order.indexOf(S.head) + d + order.length) % order.length]);
});

// ---- the location's hash: what is shown, so a reload or a shared link shows it again ------

function saveHash() {
    if (!S.input) return;
    const p = new URLSearchParams();
    if (S.input.mode === 'text') {
        p.set('text', S.input.text);
        if (S.input.pair) p.set('pair', S.input.pair);
    } else p.set('ids', S.input.body.tokens.join(','));
    p.set('tab', S.tab);
    p.set('layer', S.layer);
    p.set('head', S.head);
    p.set('hs', S.hs);
    history.replaceState(null, '', `#${p}`);
}

function loadHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    const L = S.model.n_layers, H = S.model.n_heads;
    if (p.has('ids')) {
        document.querySelector('input[name=mode][value=ids]').checked = true;
        $('text').value = p.get('ids').split(',').join(' ');
    } else {
        $('text').value = p.get('text') ?? EXAMPLES[0];
        $('text-pair').value = p.get('pair') ?? '';
    }
    if (Object.keys(views).includes(p.get('tab'))) S.tab = p.get('tab');
    const l = Number(p.get('layer')), hd = p.get('head'), hs = Number(p.get('hs'));
    if (Number.isInteger(l) && l >= 0 && l < L) S.layer = l;
    if (hd === 'avg') S.head = 'avg';
    else if (/^\d+$/.test(hd ?? '') && Number(hd) < H) S.head = Number(hd);
    S.hs = p.has('hs') && Number.isInteger(hs) && hs >= 0 && hs <= L ? hs : L;
}

// ---- downloads ---------------------------------------------------------------------------------

async function downloadJson() {
    try {
        if (S.tab === 'model') { saveText(await modelText(), 'encoderd-model.json'); return; }
        if (!S.input) return;
        const hd = S.head === 'avg' ? undefined : [S.head];
        const bodies = {
            attention: { outputs: ['tokens', 'attention'], layers: [S.layer], heads: hd },
            layers: { outputs: ['tokens', 'hidden_states'], layers: [S.hs] },
            qk: { outputs: ['tokens', 'scores', 'attention'], layers: [S.layer], heads: [S.head === 'avg' ? 0 : S.head] },
            neurons: { outputs: ['tokens', 'queries', 'keys', 'ffn_intermediate'], layers: [S.layer], heads: [S.head === 'avg' ? 0 : S.head] },
            flow: { outputs: ['tokens', 'attention', 'attention_norms', 'rollout'], layers: [S.layer], heads: hd },
            ablate: { outputs: ['tokens', 'hidden_states', 'embedding'], ablate: views.ablate?.ablations() },
            lens: { outputs: ['tokens', 'predictions'], top_k: 5 },
            steps: { outputs: ['tokens', 'hidden_states', 'attention', 'embedding'] },
        };
        const b = bodies[S.tab];
        // Only what this server has (an output it lacks would be a 422).
        b.outputs = b.outputs?.filter((o) => o === 'tokens' || app.has(o) || ['hidden_states', 'attention', 'embedding'].includes(o));
        if (!b.ablate?.length) delete b.ablate;
        const body = { ...S.input.body, ...b, precision: 6 };
        const name = S.tab === 'layers' ? `hidden-${S.hs}` : `${S.tab}-L${S.layer}-H${S.tab === 'qk' && S.head === 'avg' ? 0 : S.head}`;
        saveText(await encodeText(body), `encoderd-${name}.json`);
    } catch (e) { showError(e); }
}

// ---- start -------------------------------------------------------------------------------------

async function start() {
    try {
        S.model = await getModel();
        S.features = await getFeatures(S.model);
    } catch (e) {
        $('model-badge').textContent = 'model unavailable';
        showError(e);
        return;
    }
    const m = S.model;
    $('model-badge').textContent = `${m.name}${m.compute ? ` · ${m.compute}` : ''} · ${m.n_layers} layers · ${m.n_heads} heads · d_model ${m.d_model}`;
    $('model-badge').title = m.compute ? `GET /model · compute ${m.compute}${m.compute === 'f32' ? ' (exact)' : ' (approximate: faster, not the f32 numbers)'}` : 'GET /model';
    if (!views.attention) {
        views.attention = new AttentionView(app);
        views.layers = new LayersView(app);
        views.qk = new QkView(app);
        views.neurons = new NeuronView(app);
        views.flow = new FlowView(app);
        views.ablate = new AblateView(app);
        views.lens = new LensView(app);
        if (m.d_model <= STEPS_MAX_D) views.steps = new StepsView(app);
        else document.querySelector('#tabs [data-tab=steps]').remove();
        views.model = new ModelView(app);
        $('views').append(...Object.values(views).map((v) => v.el));
        for (const v of Object.values(views)) v.el.hidden = true;
        buildToolbar();
        loadHash();
        syncToolbar();
    }
    if ($('text').value.trim()) submit();
}

$('input-form').addEventListener('submit', (ev) => { ev.preventDefault(); if (S.model) submit(); else start(); });
for (const id of ['text', 'text-pair'])
    $(id).addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $('input-form').requestSubmit(); }
    });
for (const r of document.querySelectorAll('input[name=mode]'))
    r.addEventListener('change', () => {
        $('special').disabled = mode() === 'ids';
        $('text').placeholder = mode() === 'ids' ? 'Token ids, e.g. 2 356 280 3, then Enter' : 'Type a sentence and press Enter (Shift+Enter for a new line)';
    });
for (const b of document.querySelectorAll('#tabs [data-tab]')) b.addEventListener('click', () => selectTab(b.dataset.tab));
$('download-json').addEventListener('click', downloadJson);
$('examples').replaceChildren(h('span', { class: 'meta' }, 'try:'), ...EXAMPLES.map((t) => h('button', {
    type: 'button', class: 'example', title: t,
    onclick: () => {
        document.querySelector('input[name=mode][value=text]').checked = true;
        $('special').disabled = false;
        $('text').value = t;
        $('input-form').requestSubmit();
    },
}, t.length > 26 ? `${t.slice(0, 25)}…` : t)));

start();
