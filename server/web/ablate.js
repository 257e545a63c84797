// ablate.js - the "Ablation" tab: the layer x head grid, where a click switches a head off
// (its output replaced by zeros, or by its mean over the tokens), and how far that moves
// the model: for every hidden state and for the pooled embedding, the cosine similarity
// between the run with the heads off and the run with every head on.
import { Heatmap, SEQ, button, fmt, h, roomIn, savePng, scale } from './draw.js';

// cos(a_i, b_i) of the T rows of width D, and their mean.
export function rowCosines(a, b, T, D) {
    const cos = new Float32Array(T);
    let mean = 0;
    for (let i = 0; i < T; i++) {
        let ab = 0, aa = 0, bb = 0;
        for (let d = 0; d < D; d++) {
            const x = a[i * D + d], y = b[i * D + d];
            ab += x * y; aa += x * x; bb += y * y;
        }
        cos[i] = aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : (aa === bb ? 1 : 0);
        mean += cos[i] / T;
    }
    return { cos, mean };
}

export class AblateView {
    constructor(app) {
        this.app = app;
        this.off = new Set(); // "layer:head"
        this.mode = 'zero';
        this.clean = null;    // the answer with every head on
        this.gridBox = h('div', { class: 'ablate-grid', 'data-testid': 'ablate-grid' });
        this.modeSel = h('select', { 'data-testid': 'ablate-mode', onchange: (ev) => { this.mode = ev.target.value; this.run(); } },
            h('option', { value: 'zero' }, 'zero: the head outputs 0'), h('option', { value: 'mean' }, 'mean: the head outputs its mean over the tokens'));
        this.summary = h('div', { class: 'ablate-summary', 'data-testid': 'ablate-summary' });
        this.mapBox = h('div', { class: 'mapbox wide', 'data-testid': 'ablate-heatmap' });
        this.note = h('p', { class: 'meta' });
        this.el = h('section', { class: 'view', 'data-view': 'ablate' },
            h('div', { class: 'row' },
                h('div', { class: 'card' },
                    h('div', { class: 'card-head' }, h('h3', {}, 'Switch heads off'), h('label', {}, 'ablation ', this.modeSel)),
                    h('p', { class: 'explain' }, 'Click a head to switch it off (again to switch it back on). The input is encoded again with those heads ablated.'),
                    this.gridBox,
                    h('p', {}, button('all on', 'Switch every head back on', () => { this.off.clear(); this.run(); }))),
                h('div', { class: 'card' },
                    h('div', { class: 'card-head' }, h('h3', {}, 'How far the model moved')),
                    h('p', { class: 'explain' }, 'The mean over the tokens of cos(ablated, intact) for each hidden state, and for the pooled embedding: 1 = not moved.'),
                    this.summary, this.note)),
            h('div', { class: 'card' },
                h('div', { class: 'card-head' }, h('h3', {}, 'Each token, each hidden state'), button('PNG ↓', 'Download as PNG', () => this.map && savePng(this.map.el, 'encoderd-ablation.png'))),
                h('p', { class: 'explain' }, 'cos(ablated, intact) of every token’s vector: hidden_states 0…L.'),
                this.mapBox));
    }

    reset() { this.clean = null; this.result = null; }

    async render() {
        const { S } = this.app;
        if (!this.app.S.features.ablate) {
            this.gridBox.replaceChildren(this.app.missing('head ablation (/encode "ablate")'));
            this.summary.replaceChildren();
            this.mapBox.replaceChildren();
            this.map = null;
            return;
        }
        this.buildGrid();
        if (!this.clean) {
            const gen = S.gen, json = await this.app.encode({ outputs: ['hidden_states', 'embedding'] });
            if (!json || gen !== S.gen) return;
            this.clean = json;
        }
        await this.run();
    }

    buildGrid() {
        const { S } = this.app, L = S.model.n_layers, H = S.model.n_heads;
        if (this.gridFor === S.model) { this.markGrid(); return; }
        this.gridFor = S.model;
        const cells = [h('span'), ...Array.from({ length: H }, (_, k) => h('span', { class: 'gh' }, `H${k}`))];
        for (let l = 0; l < L; l++) {
            cells.push(h('span', { class: 'gl' }, `L${l}`));
            for (let k = 0; k < H; k++)
                cells.push(h('button', {
                    type: 'button', class: 'ahead', 'data-l': l, 'data-h': k, title: `layer ${l}, head ${k}: click to switch off or on`,
                    onclick: () => { const key = `${l}:${k}`; if (this.off.has(key)) this.off.delete(key); else this.off.add(key); this.run(); },
                }, '●'));
        }
        this.gridBox.style.gridTemplateColumns = `auto repeat(${H}, minmax(22px, 36px))`;
        this.gridBox.replaceChildren(...cells);
        this.markGrid();
    }

    markGrid() {
        for (const b of this.gridBox.querySelectorAll('.ahead')) b.classList.toggle('off', this.off.has(`${b.dataset.l}:${b.dataset.h}`));
    }

    // The heads switched off, as /encode's "ablate" list.
    ablations() {
        return [...this.off].map((s) => s.split(':').map(Number)).sort((a, b) => a[0] - b[0] || a[1] - b[1])
            .map(([layer, head]) => ({ layer, head, mode: this.mode }));
    }

    async run() {
        const { S } = this.app, m = S.model, T = S.T, D = m.d_model, L = m.n_layers;
        this.markGrid();
        if (!this.clean) return;
        const ablate = this.ablations();
        const key = JSON.stringify(ablate), gen = S.gen;
        this.want = key;
        let moved = this.clean;
        if (ablate.length) {
            this.note.textContent = 'encoding with those heads off…';
            const json = await this.app.encode({ outputs: ['hidden_states', 'embedding'], ablate });
            if (!json || gen !== S.gen || this.want !== key) return;
            moved = json;
        }
        const a = moved.hidden_states.data, b = this.clean.hidden_states.data;
        const per = [], all = new Float32Array(T * (L + 1));
        for (let k = 0; k <= L; k++) {
            const r = rowCosines(a.subarray(k * T * D, (k + 1) * T * D), b.subarray(k * T * D, (k + 1) * T * D), T, D);
            per.push(r.mean);
            for (let i = 0; i < T; i++) all[i * (L + 1) + k] = r.cos[i];
        }
        const e = rowCosines(moved.embedding.data, this.clean.embedding.data, 1, moved.embedding.data.length);
        const lo = Math.min(e.mean, ...per, 0.999);
        const bar = (c) => { const s = h('span', { class: 'bar' }); s.style.width = `${Math.max(1, Math.round(120 * Math.min(1, 1 - c) / Math.max(1e-6, 1 - lo)))}px`; return s; };
        const row = (name, c) => h('tr', {}, h('td', { class: 'tok' }, name), h('td', {}, fmt(c, 5)), h('td', {}, fmt(1 - c, 5)), h('td', { class: 'w' }, bar(c)));
        this.summary.replaceChildren(h('table', { class: 'numbers' },
            h('thead', {}, h('tr', {}, h('th', { class: 'left' }, ''), h('th', {}, 'cos'), h('th', {}, '1 − cos'), h('th', { class: 'left' }, 'moved'))),
            h('tbody', {}, per.map((c, k) => row(k === 0 ? 'hidden_states[0]' : `hidden_states[${k}] (layer ${k - 1})`, c)), row('embedding (pooled)', e.mean))));
        this.note.textContent = ablate.length ? `${ablate.length} head${ablate.length > 1 ? 's' : ''} off (${this.mode}): ${ablate.map((x) => `L${x.layer}H${x.head}`).join(', ')}` : 'Every head on: nothing moved. Click a head to switch it off.';
        this.summary.dataset.off = String(ablate.length);
        let min = 1;
        for (const v of all) min = Math.min(min, v);
        const labels = this.app.labels();
        const opts = {
            rows: T, cols: L + 1, valueAt: (i, k) => all[i * (L + 1) + k], scale: scale(SEQ, 1, Math.min(min, 0.99)), square: false,
            rowLabels: labels, colLabels: Array.from({ length: L + 1 }, (_, k) => `h${k}`), maxW: roomIn(this.mapBox, 200, 600),
            maxH: Math.max(100, Math.min(520, T * 22)), maxCell: 60, maxCellH: 22, digits: 3, legendText: 'cos (dark = moved)',
            tipText: (i, k, v) => [h('b', {}, fmt(v, 5)), h('br'), `token ${i} “${labels[i]}”, hidden_states[${k}]`],
            onHover: (i) => this.app.setFocus(i),
        };
        if (!this.map) { this.map = new Heatmap(opts); this.mapBox.replaceChildren(this.map.el); } else this.map.update(opts);
    }
}
