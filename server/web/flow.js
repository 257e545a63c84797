// flow.js - the "Norms & rollout" tab: for the layer and head in view, the attention
// weights beside the attention norms ‖α_ij f(x_j)‖ (how much of key j actually reaches
// query i once the size of its value vector is counted), and the attention rollout up to
// that layer (the product of the layers' head-averaged maps, each with the residual added).
import { Heatmap, SEQ, TEAL, button, fmt, h, roomIn, savePng, scale } from './draw.js';

export class FlowView {
    constructor(app) {
        this.app = app;
        this.cache = new Map();
        this.wTitle = h('h3');
        this.nTitle = h('h3');
        this.rTitle = h('h3');
        this.wBox = h('div', { class: 'mapbox', 'data-testid': 'flow-weights' });
        this.nBox = h('div', { class: 'mapbox', 'data-testid': 'attention-norms' });
        this.rBox = h('div', { class: 'mapbox', 'data-testid': 'rollout' });
        const card = (title, box, explain, get, name) => h('div', { class: 'card' },
            h('div', { class: 'card-head' }, title, button('PNG ↓', 'Download as PNG', () => { const m = get(); if (m) savePng(m.el, `encoderd-${name}.png`); })),
            h('p', { class: 'explain' }, explain), box);
        this.el = h('section', { class: 'view', 'data-view': 'flow' },
            h('div', { class: 'row' },
                card(this.wTitle, this.wBox, 'The weights α_ij: row i, column j, every row sums to 1.', () => this.maps.w, 'weights'),
                card(this.nTitle, this.nBox, 'The norms ‖α_ij f(x_j)‖: the weight times the size of what key j sends (its value vector through W_O). A large weight on a small vector moves little.', () => this.maps.n, 'norms')),
            h('div', { class: 'row' },
                card(this.rTitle, this.rBox, 'Attention rollout: the head-averaged maps of layers 0…l, each with the identity added for the residual and its rows renormalised, multiplied together. Row i: where token i’s information came from.', () => this.maps.r, 'rollout')));
        this.maps = {};
    }

    reset() { this.cache.clear(); }

    get(key, body) {
        if (!this.cache.has(key)) this.cache.set(key, this.app.encode(body).catch((e) => { this.cache.delete(key); throw e; }));
        return this.cache.get(key);
    }

    draw(which, box, M, hi, lut, what) {
        const { S } = this.app, T = S.T, labels = this.app.labels();
        const opts = {
            rows: T, cols: T, valueAt: (i, j) => M[i * T + j], scale: scale(lut, 0, hi || 1),
            rowLabels: labels, colLabels: labels, rowTick: T > 40 ? 16 : 0, colTick: T > 40 ? 16 : 0,
            maxW: roomIn(box), maxH: 440, digits: 2, legendText: what, ...this.app.split(),
            tipText: (i, j, v) => [h('b', {}, fmt(v, 4)), h('br'), `${what}: query ${i} “${labels[i]}” ← key ${j} “${labels[j]}”`],
            onHover: (i) => this.app.setFocus(i),
        };
        if (!this.maps[which]) { this.maps[which] = new Heatmap(opts); box.replaceChildren(this.maps[which].el); } else this.maps[which].update(opts);
    }

    async render() {
        const { S } = this.app, l = S.layer, hd = S.head, T = S.T, per = T * T;
        const name = hd === 'avg' ? 'average of heads' : `head ${hd}`;
        this.wTitle.textContent = `Weights · layer ${l} · ${name}`;
        this.nTitle.textContent = `Norms · layer ${l} · ${name}`;
        this.rTitle.textContent = `Rollout · layers 0–${l}`;
        await this.app.needAttention([l]);
        if (S.layer !== l || S.tab !== 'flow') return;
        const A = this.app.map(S.attn, l, hd);
        this.draw('w', this.wBox, A, Math.max(...A), SEQ, 'weight');
        const jobs = [];
        if (this.app.has('attention_norms')) {
            jobs.push(this.get(`n:${l}:${hd}`, { outputs: ['attention_norms'], layers: [l], ...(hd === 'avg' ? {} : { heads: [hd] }) }).then((json) => {
                if (!json || S.layer !== l || S.head !== hd || S.tab !== 'flow') return;
                const all = json.attention_norms.data, n = all.length / per, M = new Float32Array(per);
                for (let k = 0; k < n; k++) for (let i = 0; i < per; i++) M[i] += all[k * per + i] / n;
                let hi = 0;
                for (const v of M) hi = Math.max(hi, v);
                this.draw('n', this.nBox, M, hi, TEAL, 'norm');
            }));
        } else {
            this.maps.n = null;
            this.nBox.replaceChildren(this.app.missing('attention norms (/encode output "attention_norms")'));
        }
        if (this.app.has('rollout')) {
            jobs.push(this.get(`r:${l}`, { outputs: ['rollout'], layers: [l] }).then((json) => {
                if (!json || S.layer !== l || S.tab !== 'flow') return;
                const M = json.rollout.data.subarray(0, per);
                let hi = 0;
                for (const v of M) hi = Math.max(hi, v);
                this.draw('r', this.rBox, M, hi, SEQ, 'rollout');
            }));
        } else {
            this.maps.r = null;
            this.rBox.replaceChildren(this.app.missing('attention rollout (/encode output "rollout")'));
        }
        await Promise.all(jobs);
    }
}
