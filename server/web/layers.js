// layers.js - the "Inside the layers" tab: one hidden state as a tokens x dimensions
// heatmap, the sinusoidal position table the random model adds, how each token's vector
// changes from layer to layer (its norm; its cosine similarity to the layer before), and
// a 2-D PCA projection of the token vectors of every layer.
import { DIV, FONT, Heatmap, SEQ, TEAL, absQuantile, button, fmt, h, roomIn, savePng, scale, shorten, sizeCanvas, tip } from './draw.js';

// PE[pos][2i] = sin(pos / 10000^(2i/D)), PE[pos][2i+1] = cos(same): (rows, D).
export function positionTable(rows, D) {
    const pe = new Float32Array(rows * D);
    for (let pos = 0; pos < rows; pos++)
        for (let i = 0; 2 * i < D; i++) {
            const angle = pos / 10000 ** ((2 * i) / D);
            pe[pos * D + 2 * i] = Math.sin(angle);
            if (2 * i + 1 < D) pe[pos * D + 2 * i + 1] = Math.cos(angle);
        }
    return pe;
}

// The first two principal components of the rows of X (T, D), through the T x T Gram
// matrix of the centred rows (T is small next to D), by power iteration with deflation.
// Returns { xy: Float32Array(2T), share: [var1, var2] / total variance }.
export function pca2(X, T, D) {
    const mean = new Float64Array(D);
    for (let i = 0; i < T; i++) for (let d = 0; d < D; d++) mean[d] += X[i * D + d] / T;
    const Xc = new Float64Array(T * D);
    for (let i = 0; i < T; i++) for (let d = 0; d < D; d++) Xc[i * D + d] = X[i * D + d] - mean[d];
    const G = new Float64Array(T * T);
    for (let i = 0; i < T; i++)
        for (let j = i; j < T; j++) {
            let s = 0;
            for (let d = 0; d < D; d++) s += Xc[i * D + d] * Xc[j * D + d];
            G[i * T + j] = G[j * T + i] = s;
        }
    let total = 0;
    for (let i = 0; i < T; i++) total += G[i * T + i];
    const xy = new Float32Array(2 * T), share = [0, 0];
    for (let c = 0; c < 2; c++) {
        let v = new Float64Array(T).map((_, i) => Math.sin(i * 1.7 + c + 1) + 1.1);
        let lambda = 0;
        for (let it = 0; it < 200; it++) {
            const w = new Float64Array(T);
            for (let i = 0; i < T; i++) { let s = 0; for (let j = 0; j < T; j++) s += G[i * T + j] * v[j]; w[i] = s; }
            const n = Math.hypot(...w);
            if (!(n > 1e-30)) { lambda = 0; break; }
            let diff = 0;
            for (let i = 0; i < T; i++) { diff += Math.abs(w[i] / n - v[i]); v[i] = w[i] / n; }
            lambda = n;
            if (diff < 1e-10) break;
        }
        // Scores along the component: u * sqrt(lambda); the sign makes the largest positive.
        let big = 0;
        for (let i = 0; i < T; i++) if (Math.abs(v[i]) > Math.abs(big)) big = v[i];
        const sgn = big < 0 ? -1 : 1, s = Math.sqrt(Math.max(lambda, 0));
        for (let i = 0; i < T; i++) xy[2 * i + c] = sgn * v[i] * s;
        share[c] = total > 0 ? lambda / total : 0;
        for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) G[i * T + j] -= lambda * v[i] * v[j];
    }
    return { xy, share };
}

export class LayersView {
    constructor(app) {
        this.app = app;
        this.slider = h('input', { type: 'range', min: 0, max: 0, value: 0, 'aria-label': 'Hidden state', 'data-testid': 'hs-slider' });
        this.slider.addEventListener('input', () => app.setHs(Number(this.slider.value)));
        this.sliderOut = h('output');
        this.stateTitle = h('h3');
        this.stateBox = h('div', { class: 'mapbox wide' });
        this.stateNote = h('p', { class: 'explain' });
        this.peBox = h('div', { class: 'mapbox wide' });
        this.peNote = h('p', { class: 'explain' });
        this.normBox = h('div', { class: 'mapbox' });
        this.cosBox = h('div', { class: 'mapbox' });
        this.pcaCanvas = h('canvas', { class: 'pca', 'data-testid': 'pca' });
        this.pcaCanvas.addEventListener('mousemove', (ev) => this.hoverPca(ev));
        this.pcaCanvas.addEventListener('mouseleave', (ev) => { tip(ev, null); app.setFocus(-1); });
        this.pcaTitle = h('h3');
        this.pcaStrip = h('div', { class: 'strip' });
        const png = (get, what) => button('PNG ↓', 'Download as PNG', () => { const c = get(); if (c) savePng(c, `encoderd-${what()}.png`); });
        this.el = h('section', { class: 'view', 'data-view': 'layers' },
            h('div', { class: 'toolbar inline' }, h('label', { class: 'layer' }, 'hidden_states', this.slider, this.sliderOut),
                h('span', { class: 'meta' }, '0 = token embeddings + positions; i = the output of layer i')),
            h('div', { class: 'card' },
                h('div', { class: 'card-head' }, this.stateTitle, png(() => this.stateMap?.el, () => `hidden-${app.S.hs}`)),
                this.stateNote, h('div', { class: 'scroll x' }, this.stateBox)),
            h('div', { class: 'row' },
                h('div', { class: 'card' },
                    h('div', { class: 'card-head' }, h('h3', {}, 'Norm ‖h‖ of each token, layer by layer'), png(() => this.normMap?.el, () => 'norms')),
                    h('p', { class: 'explain' }, 'Columns are hidden_states 0…L. LayerNorm keeps the norms near √d_model.'),
                    this.normBox),
                h('div', { class: 'card' },
                    h('div', { class: 'card-head' }, h('h3', {}, 'Cosine similarity to the layer before'), png(() => this.cosMap?.el, () => 'cosine')),
                    h('p', { class: 'explain' }, 'Column l compares a token’s vector after layer l with its vector before it: 1 = the same direction. The colours span the range seen.'),
                    this.cosBox)),
            h('div', { class: 'card' },
                h('div', { class: 'card-head' }, this.pcaTitle, png(() => this.pcaCanvas, () => `pca-${app.S.hs}`)),
                h('p', { class: 'explain' }, 'The token vectors of one hidden state projected on their first two principal components. Click a small map to choose the layer.'),
                h('div', { class: 'pca-row' }, this.pcaCanvas, this.pcaStrip)),
            h('div', { class: 'card' },
                h('div', { class: 'card-head' }, h('h3', {}, 'The position table'), png(() => this.peMap?.el, () => 'positions')),
                this.peNote, h('div', { class: 'scroll x' }, this.peBox)));
    }

    reset() { this.pcas = null; this.stats = null; }

    async render() {
        const { S } = this.app, m = S.model, L = m.n_layers;
        this.slider.max = String(L);
        this.slider.value = String(S.hs);
        this.sliderOut.textContent = `${S.hs} / ${L}`;
        if (!S.hidden) {
            this.stateTitle.textContent = 'Loading the hidden states…';
            this.el.classList.add('loading');
            try { await this.app.needHidden(); } finally { this.el.classList.remove('loading'); }
            if (!S.hidden || S.tab !== 'layers') return;
        }
        this.drawState();
        this.drawStats();
        this.drawPca();
        this.drawPositions();
    }

    setFocus(i) {
        const hl = i >= 0 ? { row: i } : {};
        for (const m of [this.stateMap, this.normMap, this.cosMap, this.peMap]) m?.highlight(hl);
        this.focus = i;
        this.paintPca();
    }

    hidden(k) {
        const { S } = this.app, T = S.T, D = S.model.d_model;
        return S.hidden.subarray(k * T * D, (k + 1) * T * D);
    }

    drawState() {
        const { S } = this.app, T = S.T, D = S.model.d_model, X = this.hidden(S.hs), labels = this.app.labels();
        const m = absQuantile(X, D <= 16 ? 1 : 0.99);
        this.stateTitle.textContent = S.hs === 0 ? 'hidden_states[0]: token embeddings + positions' : `hidden_states[${S.hs}]: the output of layer ${S.hs - 1}`;
        this.stateNote.textContent = `${T} tokens × ${D} dimensions. Red positive, blue negative; the colours saturate at ±${fmt(m, 2)}${D > 16 ? ' (the 99th percentile of |x|, so a few large dimensions do not wash out the rest)' : ''}.`;
        const opts = {
            rows: T, cols: D, valueAt: (i, d) => X[i * D + d], scale: scale(DIV, -m, m), square: false,
            rowLabels: labels, colTick: D > 64 ? 64 : D > 16 ? 8 : 0, colLabels: D <= 16 ? Array.from({ length: D }, (_, d) => `d${d}`) : null,
            maxW: roomIn(this.stateBox, 300, 1000), maxH: Math.max(120, Math.min(520, T * 20)), minCell: 1, maxCell: 64, maxCellH: 26, digits: 2,
            tipText: (i, d, v) => [h('b', {}, fmt(v, 4)), h('br'), `token ${i} “${labels[i]}”, dimension ${d}`],
            onHover: (i) => this.app.setFocus(i),
        };
        if (!this.stateMap) { this.stateMap = new Heatmap(opts); this.stateBox.replaceChildren(this.stateMap.el); } else this.stateMap.update(opts);
    }

    // Norms (T, L+1) and cosines (T, L), computed once per input.
    computeStats() {
        const { S } = this.app, T = S.T, D = S.model.d_model, L = S.model.n_layers;
        const norm = new Float32Array(T * (L + 1)), cos = new Float32Array(T * L);
        for (let k = 0; k <= L; k++) {
            const X = this.hidden(k), P = k ? this.hidden(k - 1) : null;
            for (let i = 0; i < T; i++) {
                let nn = 0, dot = 0, pp = 0;
                for (let d = 0; d < D; d++) {
                    const x = X[i * D + d];
                    nn += x * x;
                    if (P) { dot += x * P[i * D + d]; pp += P[i * D + d] ** 2; }
                }
                norm[i * (L + 1) + k] = Math.sqrt(nn);
                if (P) cos[i * L + k - 1] = dot / (Math.sqrt(nn * pp) || 1);
            }
        }
        return { norm, cos };
    }

    drawStats() {
        const { S } = this.app, T = S.T, L = S.model.n_layers, labels = this.app.labels();
        this.stats ??= this.computeStats();
        const { norm, cos } = this.stats;
        let hi = -Infinity, lo = Infinity, clo = Infinity;
        for (const v of norm) { hi = Math.max(hi, v); lo = Math.min(lo, v); }
        for (const v of cos) clo = Math.min(clo, v);
        const common = { rows: T, rowLabels: labels, square: false, maxH: Math.max(120, Math.min(520, T * 22)), maxCell: 60, maxCellH: 24, onHover: (i) => this.app.setFocus(i) };
        const nOpts = {
            ...common, cols: L + 1, valueAt: (i, k) => norm[i * (L + 1) + k], scale: scale(TEAL, hi - lo > 1e-3 * hi ? lo : 0, hi || 1), maxW: roomIn(this.normBox, 120, 440), digits: 1,
            colLabels: Array.from({ length: L + 1 }, (_, k) => `h${k}`), legendText: '‖h‖',
            tipText: (i, k, v) => [h('b', {}, fmt(v, 3)), h('br'), `‖hidden_states[${k}]‖ of token ${i} “${labels[i]}”`],
        };
        const cOpts = {
            ...common, cols: L, valueAt: (i, k) => cos[i * L + k], scale: scale(SEQ, Math.min(clo, 0.999), 1), maxW: roomIn(this.cosBox, 120, 440), digits: 2,
            colLabels: Array.from({ length: L }, (_, k) => `L${k}`), legendText: 'cos',
            tipText: (i, k, v) => [h('b', {}, fmt(v, 4)), h('br'), `cos(h${k + 1}, h${k}) of token ${i} “${labels[i]}”`],
        };
        if (!this.normMap) { this.normMap = new Heatmap(nOpts); this.normBox.replaceChildren(this.normMap.el); } else this.normMap.update(nOpts);
        if (!this.cosMap) { this.cosMap = new Heatmap(cOpts); this.cosBox.replaceChildren(this.cosMap.el); } else this.cosMap.update(cOpts);
    }

    // ---- PCA ----------------------------------------------------------------------------------
    // The projection of hidden state k, computed when first needed; turned to the same
    // orientation as the layer before (once that one is known), so the small maps read as
    // a film.
    pcaOf(k) {
        const { S } = this.app, p = (this.pcas[k] ??= pca2(this.hidden(k), S.T, S.model.d_model));
        const prev = this.pcas[k - 1];
        if (!p.aligned && (k === 0 || prev?.aligned)) {
            for (let c = 0; k > 0 && c < 2; c++) {
                let dot = 0;
                for (let i = 0; i < S.T; i++) dot += p.xy[2 * i + c] * prev.xy[2 * i + c];
                if (dot < 0) for (let i = 0; i < S.T; i++) p.xy[2 * i + c] *= -1;
            }
            p.aligned = true;
        }
        return p;
    }

    drawPca() {
        const { S } = this.app, L = S.model.n_layers;
        this.pcas ??= [];
        const p = this.pcaOf(S.hs);
        this.pcaTitle.textContent = `PCA of hidden_states[${S.hs}] · PC1 ${(100 * p.share[0]).toFixed(0)}% · PC2 ${(100 * p.share[1]).toFixed(0)}% of the variance`;
        this.paintPca();
        if (this.stripGen !== S.gen) {
            this.stripGen = S.gen;
            this.pcaStrip.replaceChildren(...Array.from({ length: L + 1 }, (_, k) => {
                const c = h('canvas', { class: 'mini-pca', title: `hidden_states[${k}]` });
                c.addEventListener('click', () => this.app.setHs(k));
                return h('figure', { 'data-k': k }, c, h('figcaption', {}, `h${k}`));
            }));
            this.fillStrip(S.gen);
        }
        for (const f of this.pcaStrip.children) f.classList.toggle('on', Number(f.dataset.k) === S.hs);
    }

    // Every layer's small map, one at a time, letting the page breathe in between.
    async fillStrip(gen) {
        const { S } = this.app;
        for (let k = 0; k <= S.model.n_layers; k++) {
            if (gen !== S.gen || !this.pcas) return;
            const p = this.pcaOf(k);
            this.paintScatter(this.pcaStrip.children[k].firstChild, p, 96, false);
            if (k === S.hs) this.paintPca();
            await new Promise((r) => setTimeout(r, 0));
        }
    }

    paintPca() {
        if (!this.pcas) return;
        this.pcaPoints = this.paintScatter(this.pcaCanvas, this.pcas[this.app.S.hs], 440, true);
    }

    // Draws a scatter of the tokens; returns their pixel positions.
    paintScatter(canvas, p, size, big) {
        const { S } = this.app, T = S.T, pad = big ? 36 : 8;
        const ctx = sizeCanvas(canvas, size, size);
        ctx.fillStyle = '#fff';
        ctx.fillRect(0, 0, size, size);
        let m = 1e-12;
        for (let i = 0; i < 2 * T; i++) m = Math.max(m, Math.abs(p.xy[i]));
        const X = (v) => size / 2 + (v / m) * (size / 2 - pad), Y = (v) => size / 2 - (v / m) * (size / 2 - pad);
        ctx.strokeStyle = '#e4e6eb';
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(size / 2, pad / 2); ctx.lineTo(size / 2, size - pad / 2);
        ctx.moveTo(pad / 2, size / 2); ctx.lineTo(size - pad / 2, size / 2);
        ctx.stroke();
        if (big) {
            ctx.font = '10px system-ui, "DejaVu Sans", sans-serif';
            ctx.fillStyle = '#999';
            ctx.textAlign = 'right';
            ctx.fillText('PC1 →', size - 6, size / 2 - 6);
            ctx.textAlign = 'left';
            ctx.fillText('↑ PC2', size / 2 + 6, 12);
        }
        const pts = [];
        for (let i = 0; i < T; i++) pts.push([X(p.xy[2 * i]), Y(p.xy[2 * i + 1])]);
        if (T <= 40) { // a faint path through the tokens in order: where the sentence goes
            ctx.strokeStyle = 'rgba(80, 90, 120, 0.18)';
            ctx.beginPath();
            pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
            ctx.stroke();
        }
        const r = big ? 5 : 2.5;
        for (let i = 0; i < T; i++) {
            const [x, y] = pts[i], t = S.tokens[i], focus = this.focus === i;
            ctx.fillStyle = t.special ? '#8a8fa0' : `hsl(${220 - (160 * i) / Math.max(1, T - 1)}, 65%, ${focus ? 35 : 48}%)`;
            ctx.beginPath();
            if (t.special) ctx.rect(x - r, y - r, 2 * r, 2 * r); else ctx.arc(x, y, focus ? r + 2 : r, 0, 2 * Math.PI);
            ctx.fill();
            if (focus && big) { ctx.strokeStyle = '#f97316'; ctx.lineWidth = 2; ctx.stroke(); }
        }
        if (big && T <= 60) {
            ctx.font = FONT;
            ctx.textBaseline = 'middle';
            for (let i = 0; i < T; i++) {
                const [x, y] = pts[i];
                ctx.fillStyle = this.focus === i ? '#9a3412' : '#333';
                ctx.textAlign = x > size - 90 ? 'right' : 'left';
                ctx.fillText(shorten(this.app.label(i), 12), x + (x > size - 90 ? -8 : 8), y - 7);
            }
        }
        return pts;
    }

    hoverPca(ev) {
        if (!this.pcaPoints) return;
        const r = this.pcaCanvas.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
        let best = -1, bd = 14 * 14;
        this.pcaPoints.forEach(([px, py], i) => { const d = (px - x) ** 2 + (py - y) ** 2; if (d < bd) { bd = d; best = i; } });
        this.app.setFocus(best);
        tip(ev, best >= 0 ? `token ${best} “${this.app.label(best)}”` : null);
    }

    // ---- the position table -----------------------------------------------------------------------
    drawPositions() {
        const { S } = this.app, m = S.model, T = S.T, D = m.d_model;
        if (m.positions !== 'sinusoidal') {
            this.peNote.textContent = `This model learns its positions: a table of ${m.max_len} × ${D} numbers in the checkpoint, added to the token embeddings${m.embedding_layernorm ? ' before a LayerNorm' : ''}. encoderd does not send it.`;
            this.peBox.replaceChildren();
            this.peMap = null;
            return;
        }
        const pe = positionTable(T, D), labels = this.app.labels();
        const p1 = positionTable(2, D).slice(D, D + Math.min(D, 4));
        this.peNote.textContent = `PE[pos][2i] = sin(pos / 10000^(2i/d_model)), PE[pos][2i+1] = cos(pos / 10000^(2i/d_model)), computed here for positions 0…${T - 1} and d_model ${D}; hidden_states[0] is the token embedding plus this row. PE[1] starts ${[...p1].map((v) => v.toFixed(4)).join(', ')}.`;
        const opts = {
            rows: T, cols: D, valueAt: (i, d) => pe[i * D + d], scale: scale(DIV, -1, 1), square: false,
            rowLabels: labels.map((s, i) => `${i} ${shorten(s, 10)}`), colTick: D > 64 ? 64 : D > 16 ? 8 : 0,
            colLabels: D <= 16 ? Array.from({ length: D }, (_, d) => `d${d}`) : null,
            maxW: roomIn(this.peBox, 300, 1000), maxH: Math.max(120, Math.min(420, T * 20)), maxCell: 64, maxCellH: 26, digits: 3,
            tipText: (i, d, v) => [h('b', {}, fmt(v, 4)), h('br'), `PE[${i}][${d}] = ${d % 2 ? 'cos' : 'sin'}(${i} / 10000^(${d - (d % 2)}/${D}))`],
            onHover: (i) => this.app.setFocus(i),
        };
        if (!this.peMap) { this.peMap = new Heatmap(opts); this.peBox.replaceChildren(this.peMap.el); } else this.peMap.update(opts);
    }
}
