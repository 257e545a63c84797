// neuron.js - the "Neurons" tab: the neuron view of one head (as bertviz's): for a query
// token and every key, the elementwise products q ⊙ k across d_head whose sum / √d_head is
// the score; and the feed-forward neurons of the layer as a tokens x neurons heatmap, the
// most active neurons first. Asks /encode for the layer and head in view only.
import { DIV, Heatmap, absQuantile, button, fmt, h, roomIn, savePng, scale } from './draw.js';

const MAX_NEURONS = 256; // columns of the feed-forward heatmap (the most active ones)

export class NeuronView {
    constructor(app) {
        this.app = app;
        this.qkTitle = h('h3');
        this.qkNote = h('p', { class: 'explain' });
        this.vecBox = h('div', { class: 'mapbox wide', 'data-testid': 'neuron-vectors' });
        this.prodBox = h('div', { class: 'mapbox wide', 'data-testid': 'neuron-view' });
        this.scoreBox = h('div', { class: 'scroll x', 'data-testid': 'neuron-scores' });
        this.ffnTitle = h('h3');
        this.ffnNote = h('p', { class: 'explain' });
        this.ffnBox = h('div', { class: 'mapbox wide', 'data-testid': 'ffn-heatmap' });
        this.cache = new Map(); // request key -> answer, for the current input
        this.el = h('section', { class: 'view', 'data-view': 'neurons' },
            h('div', { class: 'card' },
                h('div', { class: 'card-head' }, this.qkTitle, button('PNG ↓', 'Download as PNG', () => this.prod && savePng(this.prod.el, 'encoderd-neuron-view.png'))),
                this.qkNote, this.vecBox, h('div', { class: 'neuron-row' }, h('div', { class: 'scroll x' }, this.prodBox), this.scoreBox)),
            h('div', { class: 'card' },
                h('div', { class: 'card-head' }, this.ffnTitle, button('PNG ↓', 'Download as PNG', () => this.ffn && savePng(this.ffn.el, 'encoderd-ffn.png'))),
                this.ffnNote, h('div', { class: 'scroll x' }, this.ffnBox)));
    }

    reset() { this.cache.clear(); }

    async get(key, body) {
        if (!this.cache.has(key)) this.cache.set(key, this.app.encode(body).catch((e) => { this.cache.delete(key); throw e; }));
        return this.cache.get(key);
    }

    async render() {
        await Promise.all([this.renderQk(), this.renderFfn()]);
    }

    async renderQk() {
        const { S } = this.app, l = S.layer, hd = S.head === 'avg' ? 0 : S.head, dh = S.model.d_head, T = S.T;
        this.qkTitle.textContent = `Neuron view · layer ${l} · head ${hd}`;
        if (!this.app.has('queries') || !this.app.has('keys')) {
            this.qkNote.replaceChildren();
            this.vecBox.replaceChildren(this.app.missing('queries and keys (/encode outputs "queries", "keys")'));
            this.prodBox.replaceChildren();
            this.scoreBox.replaceChildren();
            this.prod = null;
            return;
        }
        const json = await this.get(`qk:${l}:${hd}`, { outputs: ['queries', 'keys'], layers: [l], heads: [hd] });
        if (!json || S.layer !== l || (S.head === 'avg' ? 0 : S.head) !== hd || S.tab !== 'neurons') return;
        const Q = json.queries.data, K = json.keys.data, q = Math.min(S.qrow, T - 1), labels = this.app.labels();
        const qv = Q.subarray(q * dh, (q + 1) * dh);
        // Row j: q ⊙ k_j; beside it, the score (their sum / √d_head) and the softmax weight.
        const prod = new Float32Array(T * dh), score = new Float64Array(T);
        for (let j = 0; j < T; j++) {
            let s = 0;
            for (let d = 0; d < dh; d++) s += (prod[j * dh + d] = qv[d] * K[j * dh + d]);
            score[j] = s / Math.sqrt(dh);
        }
        const max = Math.max(...score), e = Array.from(score, (s) => Math.exp(s - max)), sum = e.reduce((a, b) => a + b, 0);
        const weight = e.map((x) => x / sum);
        this.qkNote.textContent = `Query ${q} “${labels[q]}” (click a token above to choose another). Each row is one key j: the ${dh} products q_d · k_j,d, red where the query and the key agree in sign, blue where they disagree. Their sum divided by √${dh} is the score; the softmax of the scores is the attention weight.`;
        const mq = absQuantile(Q, 1), mk = absQuantile(K, 1), mp = absQuantile(prod, 1);
        const vec = (data, m, name) => new Heatmap({
            rows: 1, cols: dh, valueAt: (i, d) => data[d], scale: scale(DIV, -m, m), square: false, rowLabels: [name],
            maxW: roomIn(this.vecBox, 200, 900), maxH: 22, maxCellH: 22, legend: false, colTick: dh > 16 ? 8 : 1,
            tipText: (i, d, v) => `${name}[${d}] = ${fmt(v, 4)}`,
        }).el;
        this.vecBox.replaceChildren(vec(qv, mq, `q (${labels[q]})`), vec(K.subarray(0, dh), mk, `k (${labels[0]})`));
        const opts = {
            rows: T, cols: dh, valueAt: (j, d) => prod[j * dh + d], scale: scale(DIV, -mp, mp), square: false,
            rowLabels: labels, colTick: dh > 16 ? 8 : 1,
            maxW: roomIn(this.prodBox, 200, 900), maxH: Math.max(100, Math.min(520, T * 22)), maxCellH: 22, digits: 2, legendText: 'q·k product',
            splitRow: S.pairStart > 0 ? S.pairStart : -1,
            tipText: (j, d, v) => [h('b', {}, fmt(v, 4)), h('br'), `q${q}[${d}] × k${j}[${d}] (“${labels[q]}” × “${labels[j]}”)`, h('br'), `score ${fmt(score[j], 4)}, weight ${fmt(weight[j], 4)}`],
            onHover: (j) => {
                if (j >= 0) this.vecBox.replaceChildren(this.vecBox.firstChild, vec(K.subarray(j * dh, (j + 1) * dh), mk, `k (${labels[j]})`));
                this.app.setFocus(j);
            },
        };
        if (!this.prod) { this.prod = new Heatmap(opts); this.prodBox.replaceChildren(this.prod.el); } else this.prod.update(opts);
        this.prod.el.dataset.query = String(q);
        this.scoreBox.replaceChildren(h('table', { class: 'numbers' },
            h('thead', {}, h('tr', {}, h('th', {}, 'j'), h('th', { class: 'left' }, 'key'), h('th', {}, `Σ q·k / √${dh}`), h('th', {}, 'softmax'))),
            h('tbody', {}, Array.from({ length: T }, (_, j) => h('tr', { class: S.tokens[j].special ? 'special' : '' },
                h('td', {}, String(j)), h('td', { class: 'tok' }, labels[j]), h('td', {}, fmt(score[j], 4)), h('td', {}, fmt(weight[j], 4)))))));
    }

    async renderFfn() {
        const { S } = this.app, l = S.layer, T = S.T, F = S.model.d_ff;
        this.ffnTitle.textContent = `Feed-forward neurons · layer ${l}`;
        if (!this.app.has('ffn_intermediate')) {
            this.ffnNote.replaceChildren();
            this.ffnBox.replaceChildren(this.app.missing('the feed-forward activations (/encode output "ffn_intermediate")'));
            this.ffn = null;
            return;
        }
        const json = await this.get(`ffn:${l}`, { outputs: ['ffn_intermediate'], layers: [l] });
        if (!json || S.layer !== l || S.tab !== 'neurons') return;
        const X = json.ffn_intermediate.data;
        // The neurons by their largest value over the tokens, most active first.
        const peak = new Float32Array(F).fill(-Infinity);
        for (let i = 0; i < T; i++) for (let f = 0; f < F; f++) peak[f] = Math.max(peak[f], X[i * F + f]);
        const order = Array.from({ length: F }, (_, f) => f).sort((a, b) => peak[b] - peak[a]).slice(0, MAX_NEURONS);
        const n = order.length, labels = this.app.labels();
        const m = absQuantile(X, 0.999);
        this.ffnNote.textContent = `The ${F} neurons of the layer's feed-forward network after the activation (ffn_intermediate), ${n < F ? `the ${n} with the largest value on any token` : 'all of them'}, sorted by that value, most active first. Rows are tokens; red positive, blue negative.`;
        const opts = {
            rows: T, cols: n, valueAt: (i, k) => X[i * F + order[k]], scale: scale(DIV, -m, m), square: false,
            rowLabels: labels, colLabels: n <= 32 ? order.map((f) => `n${f}`) : null, colTick: n > 32 ? 32 : 0,
            maxW: roomIn(this.ffnBox, 300, 1100), maxH: Math.max(100, Math.min(520, T * 20)), maxCellH: 22, digits: 2, legendText: 'activation',
            splitRow: S.pairStart > 0 ? S.pairStart : -1,
            tipText: (i, k, v) => [h('b', {}, fmt(v, 4)), h('br'), `neuron ${order[k]} (rank ${k}), token ${i} “${labels[i]}”`],
            onHover: (i) => this.app.setFocus(i),
        };
        if (!this.ffn) { this.ffn = new Heatmap(opts); this.ffnBox.replaceChildren(this.ffn.el); } else this.ffn.update(opts);
        this.ffn.el.dataset.order = order.join(',');
    }
}
