// qk.js - the "Queries & keys" tab: for the head in view, the scores q·k/√d_k before the
// softmax beside the weights after it, and one query row worked through step by step:
// subtract the row's largest score, exponentiate, divide by the sum.
import { DIV, Heatmap, SEQ, button, fmt, h, roomIn, savePng, scale } from './draw.js';

const STEP_ROWS = 16; // keys listed in the worked row (the largest weights) when T is larger

export class QkView {
    constructor(app) {
        this.app = app;
        this.title = h('h3');
        this.note = h('p', { class: 'explain' });
        this.scoreBox = h('div', { class: 'mapbox', 'data-testid': 'scores-heatmap' });
        this.attnBox = h('div', { class: 'mapbox', 'data-testid': 'softmax-heatmap' });
        this.check = h('p', { class: 'check', 'data-testid': 'softmax-check' });
        this.stepTitle = h('h3');
        this.steps = h('div', { class: 'steps' });
        const png = (get, what) => button('PNG ↓', 'Download as PNG', () => { const m = get(); if (m) savePng(m.el, `encoderd-${what}-L${app.S.layer}-H${this.head}.png`); });
        this.el = h('section', { class: 'view', 'data-view': 'qk' },
            h('div', { class: 'card' }, h('div', { class: 'card-head' }, this.title), this.note, this.check),
            h('div', { class: 'row' },
                h('div', { class: 'card' },
                    h('div', { class: 'card-head' }, h('h3', {}, 'Scores q·k / √d_k (before the softmax)'), png(() => this.scoreMap, 'scores')),
                    h('p', { class: 'explain' }, 'Any real number: blue below zero, red above. Click a row to work it through below.'),
                    this.scoreBox),
                h('div', { class: 'card' },
                    h('div', { class: 'card-head' }, h('h3', {}, 'softmax(scores), row by row = attention'), png(() => this.attnMap, 'softmax')),
                    h('p', { class: 'explain' }, 'Each row turned into weights that are positive and sum to 1.'),
                    this.attnBox)),
            h('div', { class: 'card' }, h('div', { class: 'card-head' }, this.stepTitle), this.steps));
    }

    async render() {
        const { S } = this.app, l = S.layer, m = S.model;
        this.head = S.head === 'avg' ? 0 : S.head;
        const hd = this.head, dk = m.d_head;
        this.title.textContent = `Layer ${l} · head ${hd}: from scores to weights`;
        this.note.textContent = (S.head === 'avg' ? 'Scores belong to one head (the average of heads has none), so head 0 is shown; choose a head above. ' : '') +
            `Each query q_i and key k_j of this head has d_k = ${dk} numbers; their dot product is divided by √d_k = ${Math.sqrt(dk).toFixed(3)} so that the scores do not grow with d_k, then each row goes through the softmax.`;
        if (!S.scores.has(l) || !S.attn.has(l)) {
            this.el.classList.add('loading');
            try { await Promise.all([this.app.needScores([l]), this.app.needAttention([l])]); } finally { this.el.classList.remove('loading'); }
            if (S.layer !== l || S.tab !== 'qk') return;
        }
        const T = S.T, Sc = this.app.map(S.scores, l, hd), A = this.app.map(S.attn, l, hd), labels = this.app.labels();
        // softmax(scores) computed here, against the server's attention.
        let worst = 0;
        for (let i = 0; i < T; i++) {
            const row = this.softmaxRow(Sc, i, T);
            for (let j = 0; j < T; j++) worst = Math.max(worst, Math.abs(row.w[j] - A[i * T + j]));
        }
        this.check.textContent = `✓ The softmax of each score row, computed in this page, equals the server’s attention to within ${fmt(worst, 2)} (largest difference over the ${T}×${T} map).`;
        this.check.classList.toggle('bad', !(worst < 1e-4));
        let ms = 0, ha = 0;
        for (let k = 0; k < T * T; k++) { ms = Math.max(ms, Math.abs(Sc[k])); ha = Math.max(ha, A[k]); }
        const q = Math.min(S.qrow, T - 1);
        const common = {
            rows: T, cols: T, rowLabels: labels, colLabels: labels, rowTick: T > 40 ? 16 : 0, colTick: T > 40 ? 16 : 0,
            maxW: roomIn(this.scoreBox), maxH: 480, onClick: (i) => this.app.setQrow(i), onHover: (i) => this.app.setFocus(i),
            ...this.app.split(),
        };
        const sOpts = {
            ...common, valueAt: (i, j) => Sc[i * T + j], scale: scale(DIV, -ms || -1, ms || 1), digits: 2, legendText: 'score',
            tipText: (i, j, v) => [h('b', {}, fmt(v, 4)), h('br'), `q${i}·k${j}/√${dk}: “${labels[i]}” → “${labels[j]}”`],
        };
        const aOpts = {
            ...common, valueAt: (i, j) => A[i * T + j], scale: scale(SEQ, 0, ha || 1), digits: 2, legendText: 'weight',
            tipText: (i, j, v) => [h('b', {}, fmt(v, 4)), h('br'), `softmax row ${i} “${labels[i]}”, key ${j} “${labels[j]}”`],
        };
        if (!this.scoreMap) { this.scoreMap = new Heatmap(sOpts); this.scoreBox.replaceChildren(this.scoreMap.el); } else this.scoreMap.update(sOpts);
        if (!this.attnMap) { this.attnMap = new Heatmap(aOpts); this.attnBox.replaceChildren(this.attnMap.el); } else this.attnMap.update(aOpts);
        this.scoreMap.highlight({ row: q });
        this.attnMap.highlight({ row: q });
        this.drawSteps(Sc, A, q);
    }

    setFocus(i) {
        const q = Math.min(this.app.S.qrow, this.app.S.T - 1), hl = { row: i >= 0 ? i : q };
        this.scoreMap?.highlight(hl);
        this.attnMap?.highlight(hl);
    }

    softmaxRow(Sc, i, T) {
        let max = -Infinity;
        for (let j = 0; j < T; j++) max = Math.max(max, Sc[i * T + j]);
        const e = new Float64Array(T);
        let sum = 0;
        for (let j = 0; j < T; j++) { e[j] = Math.exp(Sc[i * T + j] - max); sum += e[j]; }
        return { max, e, sum, w: Array.from(e, (x) => x / sum) };
    }

    drawSteps(Sc, A, q) {
        const { S } = this.app, T = S.T, labels = this.app.labels();
        const { max, e, sum, w } = this.softmaxRow(Sc, q, T);
        this.stepTitle.textContent = `Query ${q} “${labels[q]}”, step by step`;
        let keys = Array.from({ length: T }, (_, j) => j);
        let more = '';
        if (T > STEP_ROWS) {
            keys = keys.sort((a, b) => w[b] - w[a]).slice(0, STEP_ROWS).sort((a, b) => a - b);
            const rest = w.reduce((s, x, j) => (keys.includes(j) ? s : s + x), 0);
            more = `… and ${T - STEP_ROWS} more keys, whose weights sum to ${fmt(rest, 4)} (the ${STEP_ROWS} largest are listed).`;
        }
        const wmax = Math.max(...w);
        const bar = (x) => { const b = h('span', { class: 'bar' }); b.style.width = `${Math.max(1, Math.round(90 * x / (wmax || 1)))}px`; return b; };
        const rows = keys.map((j) => h('tr', { class: S.tokens[j].special ? 'special' : '' },
            h('td', {}, String(j)), h('td', { class: 'tok' }, labels[j]),
            h('td', {}, fmt(Sc[q * T + j], 4)), h('td', {}, fmt(Sc[q * T + j] - max, 4)), h('td', {}, fmt(e[j], 4)),
            h('td', { class: 'w' }, h('span', { class: 'wbar' }, bar(w[j]), h('span', {}, fmt(w[j], 4)))), h('td', {}, fmt(A[q * T + j], 4))));
        this.steps.replaceChildren(
            h('p', { class: 'explain' }, `The row’s largest score is ${fmt(max, 4)}; subtracting it first keeps exp() from overflowing and does not change the result. Σ exp = ${fmt(sum, 4)}.`),
            h('table', { class: 'numbers' },
                h('thead', {}, h('tr', {}, h('th', {}, 'j'), h('th', {}, 'key'), h('th', {}, 'score s'), h('th', {}, 's − max'),
                    h('th', {}, 'exp(s − max)'), h('th', {}, '÷ Σ = weight'), h('th', {}, 'server'))),
                h('tbody', {}, rows)),
            h('p', { class: 'meta' }, `${more} Click a token above or a row of either map to work through another query.`.trim()));
    }
}
