// model.js - the Model tab: the model card from GET /model, the shape of one layer drawn
// with its sizes, and, for a model as small as the article's toy, the first step of the
// forward pass in numbers: token embedding + position = hidden_states[0], and the weight
// matrices of a layer (GET /model/weights, fetched once, when the tab is first shown).
import { getWeights } from './api.js';
import { DIV, Heatmap, absQuantile, fmt, h, scale } from './draw.js';
import { positionTable } from './layers.js';

const SMALL = 16; // d_model up to which the numbers are shown

export class ModelView {
    constructor(app) {
        this.app = app;
        this.card = h('dl', { class: 'model-card', 'data-testid': 'model-card' });
        this.diagram = h('div', { class: 'diagram' });
        this.numbers = h('div', { class: 'toy' });
        this.weightsBox = h('div', { class: 'toy' });
        this.weights = null;     // GET /model/weights, by name
        this.weightsLayer = 0;
        this.el = h('section', { class: 'view', 'data-view': 'model' },
            h('div', { class: 'row' },
                h('div', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', {}, 'Model card'), h('span', { class: 'meta' }, 'GET /model')), this.card),
                h('div', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', {}, 'One encoder layer, with this model’s sizes')), this.diagram)),
            this.numbers, this.weightsBox);
    }

    async render() {
        const m = this.app.S.model;
        const rows = [
            ['name', m.name], ['kind', m.kind === 'random' ? `seeded random (preset ${m.preset}, seed ${m.seed})` : 'Hugging Face checkpoint'],
            ['vocabulary', m.vocab_size.toLocaleString('en')], ['d_model', m.d_model],
            ['heads × d_head', `${m.n_heads} × ${m.d_head}${m.n_heads * m.d_head !== m.d_model ? ` (= ${m.n_heads * m.d_head}, not d_model)` : ''}`],
            ['d_ff', m.d_ff], ['layers', m.n_layers], ['max_len', `${m.max_len} tokens`],
            ['activation', m.activation.toUpperCase()], ['positions', m.positions],
            ['LayerNorm', `${m.pre_ln ? 'pre-LN (and a final LayerNorm)' : 'post-LN'}${m.embedding_layernorm ? ', after the embeddings too' : ''}, eps ${m.ln_eps}`],
            ['tokenizer', `${m.tokenizer.kind === 'wordpiece' ? 'WordPiece' : 'words (hashed to ids)'}${m.tokenizer.lowercase ? ', lower-cased' : ''}`],
            ['pooling', `${m.pooling}${m.normalize ? ', L2-normalised' : ''}`], ['max_batch', `${m.max_batch} inputs per request`],
            ['parameters', `≈ ${approxParams(m)}`],
        ];
        this.card.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]));
        this.diagram.replaceChildren(diagram(m));
        await Promise.all([this.renderNumbers(), this.renderWeights()]);
    }

    // The weight matrices of one layer, numbers in the cells (small models only).
    async renderWeights() {
        const m = this.app.S.model;
        if (m.d_model > SMALL) { this.weightsBox.replaceChildren(); return; }
        if (!this.weights) {
            try {
                this.weightsP ??= getWeights(); // once, however often the tab is drawn
                const w = await this.weightsP;
                this.weights ??= new Map(w.tensors.map((t) => [t.name, t]));
            } catch (e) {
                this.weightsP = null;
                this.weightsBox.replaceChildren(h('p', { class: 'meta' }, `The weights could not be read: ${e.message}`));
                return;
            }
        }
        const L = m.n_layers, l = Math.min(this.weightsLayer, L - 1);
        const select = h('select', { 'data-testid': 'weights-layer', onchange: (ev) => { this.weightsLayer = Number(ev.target.value); this.renderWeights(); } },
            Array.from({ length: L }, (_, k) => h('option', { value: String(k), selected: k === l }, `layer ${k}`)));
        const mat = (name, title) => {
            const t = this.weights.get(`layer${l}.${name}`);
            if (!t) return null;
            const [R, C] = t.shape, flat = Float32Array.from(t.data.flat());
            const bound = absQuantile(flat, 1);
            const map = new Heatmap({
                rows: R, cols: C, valueAt: (i, j) => flat[i * C + j], scale: scale(DIV, -bound, bound), square: false,
                maxW: C * 54, maxH: R * 22, maxCell: 54, maxCellH: 22, digits: 3, legend: false, rowTick: 1, colTick: 1,
                tipText: (i, j, v) => [h('b', {}, fmt(v, 6)), h('br'), `${title}[${i}][${j}]`],
            });
            return h('figure', { class: 'weight', 'data-testid': 'weight-matrix', 'data-name': t.name },
                h('figcaption', {}, `${title} `, h('span', { class: 'meta' }, `${R} × ${C}`)), map.el);
        };
        const heads = Array.from({ length: m.n_heads }, (_, k) => h('div', { class: 'weights-row' },
            mat(`head${k}.W_q`, `W_q head ${k}`), mat(`head${k}.W_k`, `W_k head ${k}`), mat(`head${k}.W_v`, `W_v head ${k}`)));
        this.weightsBox.replaceChildren(h('div', { class: 'card', 'data-testid': 'toy-weights' },
            h('div', { class: 'card-head' }, h('h3', {}, 'The weights, in numbers'), h('label', { class: 'layer' }, 'layer ', select), h('span', { class: 'meta' }, 'GET /model/weights')),
            h('p', { class: 'explain' }, `Stored (out, in), as PyTorch stores them: a product is X Wᵀ. Each head's W_q, W_k, W_v turns a token's ${m.d_model} numbers into its ${m.d_head}-number query, key and value; W_o mixes the ${m.n_heads} heads' ${m.n_heads * m.d_head} numbers back into ${m.d_model}; W_1 and W_2 are the feed-forward network (${m.d_model} → ${m.d_ff} → ${m.d_model}). Red positive, blue negative.`),
            ...heads,
            h('div', { class: 'weights-row' }, mat('W_o', 'W_o'), mat('W_1', 'W_1'), mat('W_2', 'W_2'))));
    }

    // hidden_states[0] = E[id] + PE[pos] when nothing else is added (sinusoidal positions,
    // no token types, no LayerNorm on the embeddings): then E[id] = hidden_states[0] - PE[pos].
    async renderNumbers() {
        const { S } = this.app, m = S.model, D = m.d_model;
        if (D > SMALL || !S.input) {
            if (D > SMALL) this.numbers.replaceChildren();
            else this.numbers.replaceChildren(h('p', { class: 'meta' }, 'Encode a sentence to see its numbers.'));
            return;
        }
        await this.app.needHidden();
        if (!S.hidden || S.tab !== 'model') return;
        const T = S.T, X0 = S.hidden.subarray(0, T * D), pe = positionTable(T, D);
        const plain = m.positions === 'sinusoidal' && !m.embedding_layernorm && m.type_vocab_size === 0;
        const vec = (a, o) => h('td', { class: 'vec' }, `[${Array.from({ length: D }, (_, d) => fmt(a[o + d], 4)).join(', ')}]`);
        const head = plain ? ['#', 'token', 'id', 'E[id] (its row of the embedding matrix)', '+ PE[pos]', '= hidden_states[0]']
            : ['#', 'token', 'id', 'hidden_states[0]'];
        const body = S.tokens.map((t, i) => {
            const E = Float32Array.from({ length: D }, (_, d) => X0[i * D + d] - pe[i * D + d]);
            return h('tr', { class: t.special ? 'special' : '' }, h('td', {}, String(i)), h('td', { class: 'tok' }, this.app.label(i)), h('td', {}, String(t.id)),
                ...(plain ? [vec(E, 0), vec(pe, i * D), vec(X0, i * D)] : [vec(X0, i * D)]));
        });
        this.numbers.replaceChildren(h('div', { class: 'card', 'data-testid': 'toy-numbers' },
            h('div', { class: 'card-head' }, h('h3', {}, 'The first step, in numbers')),
            h('p', { class: 'explain' }, plain
                ? `This model is small enough to read: each token picks its row E[id] of the ${m.vocab_size} × ${D} embedding matrix and adds the position row PE[pos]. (E[id] is recovered here as hidden_states[0] − PE[pos].) The other tabs show every later matrix with its numbers in the cells.`
                : 'The vectors each token starts with. The other tabs show every later matrix with its numbers in the cells.'),
            h('div', { class: 'scroll x' }, h('table', { class: 'numbers' }, h('thead', {}, h('tr', {}, head.map((c, k) => h('th', { class: k >= 3 ? 'left' : null }, c)))), h('tbody', {}, body)))));
    }
}

function approxParams(m) {
    const D = m.d_model, HD = m.n_heads * m.d_head, F = m.d_ff;
    const layer = 3 * (D * HD + HD) + HD * D + D + 2 * D * F + F + D + 4 * D;
    const emb = m.vocab_size * D + (m.positions === 'learned' ? m.max_len * D : 0) + m.type_vocab_size * D;
    const n = emb + m.n_layers * layer;
    return n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : String(n);
}

// The data path through one layer as boxes with their shapes (SVG, presentation attributes only).
function diagram(m) {
    const NS = 'http://www.w3.org/2000/svg', D = m.d_model, H = m.n_heads, Dh = m.d_head, F = m.d_ff;
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 480 330');
    svg.setAttribute('class', 'arch');
    const el = (tag, attrs, text) => {
        const e = document.createElementNS(NS, tag);
        for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
        if (text !== undefined) e.textContent = text;
        svg.append(e);
        return e;
    };
    const box = (y, label, shape, fill) => {
        el('rect', { x: 50, y, width: 380, height: 34, rx: 7, fill, stroke: '#c9cfdb' });
        el('text', { x: 64, y: y + 21, 'font-size': 13, fill: '#1f2433' }, label);
        el('text', { x: 416, y: y + 21, 'font-size': 11, fill: '#5b6275', 'text-anchor': 'end', 'font-family': 'ui-monospace, DejaVu Sans Mono, monospace' }, shape);
    };
    const arrow = (y1, y2) => el('path', { d: `M240 ${y1} L240 ${y2 - 4} M235 ${y2 - 9} L240 ${y2 - 3} L245 ${y2 - 9}`, stroke: '#8a90a2', fill: 'none', 'stroke-width': 1.5 });
    box(6, 'X (input of the layer)', `T × ${D}`, '#f5f7fb');
    arrow(40, 56);
    box(56, `Q, K, V: ${H} heads`, `${D} → ${H}×${Dh}`, '#e8effc');
    arrow(90, 106);
    box(106, 'softmax(Q Kᵀ / √d_k) · V', `${H} maps of T × T`, '#dfe8fb');
    arrow(140, 156);
    box(156, `concat · W_o${m.pre_ln ? '' : ', + X, LayerNorm'}`, `${H * Dh} → ${D}`, '#e8effc');
    arrow(190, 206);
    box(206, `FFN: ${m.activation.toUpperCase()}`, `${D} → ${F} → ${D}`, '#fbeee6');
    arrow(240, 256);
    box(256, m.pre_ln ? '+ residual' : '+ residual, LayerNorm', `T × ${D}`, '#f5f7fb');
    el('text', { x: 240, y: 318, 'font-size': 12, fill: '#5b6275', 'text-anchor': 'middle' }, `× ${m.n_layers} layers, then pooling (${m.pooling})`);
    return svg;
}
