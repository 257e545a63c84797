// attention.js - the Attention tab: a head view like bertviz's (a line from each query
// token to each key token it attends, as thick as the weight; hover a token to isolate
// its lines), the heatmap of the chosen head (or the average of heads), and the grid of
// every layer x head, fetched layer by layer once it scrolls into view.
import { FONT, Heatmap, SEQ, button, fmt, h, headColor, roomIn, savePng, scale, shorten, sizeCanvas, tip } from './draw.js';

const MAX_GRID_FLOATS = 1.5e6; // per request of the grid: a few MB of base64 at most

export class AttentionView {
    constructor(app) {
        this.app = app;
        this.headCanvas = h('canvas', { class: 'headview', 'data-testid': 'headview' });
        this.headCanvas.addEventListener('mousemove', (ev) => this.hoverHeadView(ev));
        this.headCanvas.addEventListener('mouseleave', (ev) => { tip(ev, null); this.pinned = null; app.setFocus(-1); });
        this.headTitle = h('h3');
        this.mapTitle = h('h3');
        this.mapBox = h('div', { class: 'mapbox', 'data-testid': 'attention-heatmap' });
        this.gridBox = h('div', { class: 'grid', 'data-testid': 'grid' });
        this.gridNote = h('span', { class: 'meta' });
        this.el = h('section', { class: 'view', 'data-view': 'attention' },
            h('div', { class: 'row' },
                h('div', { class: 'card' },
                    h('div', { class: 'card-head' }, this.headTitle,
                        button('PNG ↓', 'Download the head view as PNG', () => savePng(this.headCanvas, this.fileName('headview')))),
                    h('p', { class: 'explain' }, 'Each query token (left) sends a line to every key token (right) it attends; the thicker and darker, the larger the weight. Hover a token to see only its lines.'),
                    h('div', { class: 'scroll' }, this.headCanvas)),
                h('div', { class: 'card' },
                    h('div', { class: 'card-head' }, this.mapTitle,
                        button('PNG ↓', 'Download the heatmap as PNG', () => this.heat && savePng(this.heat.el, this.fileName('attention')))),
                    h('p', { class: 'explain' }, 'Row i, column j: how much query token i attends key token j. Every row sums to 1.'),
                    this.mapBox)),
            h('div', { class: 'card' },
                h('div', { class: 'card-head' }, h('h3', {}, 'Every layer × head'), this.gridNote),
                h('p', { class: 'explain' }, 'Click a map to look at it above. Each thumbnail is scaled to its own largest weight.'),
                this.gridBox));
        this.observer = new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) this.loadGrid(); }, { rootMargin: '200px' });
        this.observer.observe(this.gridBox);
    }

    fileName(what) {
        const { layer, head } = this.app.S;
        return `encoderd-${what}-L${layer}-H${head}.png`;
    }

    reset() {
        this.gridBuilt = null;
        this.gridBox.replaceChildren();
    }

    async render() {
        const { S } = this.app, l = S.layer, hd = S.head;
        const name = hd === 'avg' ? 'average of heads' : `head ${hd}`;
        this.headTitle.textContent = `Head view · layer ${l} · ${name}`;
        this.mapTitle.textContent = `Attention · layer ${l} · ${name}`;
        this.buildGrid();
        if (!S.attn.has(l)) {
            this.mapBox.classList.add('loading');
            try { await this.app.needAttention([l]); } finally { this.mapBox.classList.remove('loading'); }
            if (S.layer !== l || S.head !== hd || S.tab !== 'attention') return;
        }
        this.A = this.app.map(S.attn, l, hd);
        this.drawHeadView();
        this.drawHeatmap();
        this.markGrid();
        this.drawThumbs();
        // A small model's grid comes at once; a large one's when it scrolls into view.
        const m = S.model, small = m.n_layers * m.n_heads * S.T * S.T <= MAX_GRID_FLOATS;
        if (small || this.gridVisible()) this.loadGrid();
    }

    setFocus(i) {
        if (!this.A) return;
        if (!this.pinned || this.pinned.i !== i) this.pinned = i >= 0 ? { i, side: 'q' } : null;
        this.drawHeadView();
        this.heat?.highlight(i >= 0 ? { row: this.pinned?.side === 'k' ? -1 : i, col: this.pinned?.side === 'k' ? i : -1 } : {});
    }

    // ---- the head view -------------------------------------------------------------------
    geometry() {
        const T = this.app.S.T;
        const rowH = T <= 24 ? 22 : T <= 48 ? 16 : T <= 96 ? 13 : 11;
        return { rowH, top: 30, labelW: 118, gap: 200, font: rowH >= 16 ? FONT : '10px system-ui, "DejaVu Sans", sans-serif' };
    }

    drawHeadView() {
        const { S } = this.app, A = this.A, T = S.T, g = this.geometry();
        const W = g.labelW * 2 + g.gap, H = g.top + T * g.rowH + 10;
        const ctx = sizeCanvas(this.headCanvas, W, H);
        ctx.fillStyle = '#fff';
        ctx.fillRect(0, 0, W, H);
        const xl = g.labelW, xr = g.labelW + g.gap, y = (i) => g.top + (i + 0.5) * g.rowH;
        const focus = this.pinned, color = headColor(S.head);
        this.headCanvas.dataset.focus = focus ? `${focus.side}${focus.i}` : '';
        ctx.font = FONT;
        ctx.fillStyle = '#888';
        ctx.textAlign = 'right';
        ctx.fillText('queries', xl - 8, 16);
        ctx.textAlign = 'left';
        ctx.fillText('keys', xr + 8, 16);
        // The lines: every pair above a small weight, or only the focused token's.
        const minW = focus ? 0 : T > 64 ? 0.03 : T > 24 ? 0.01 : 0;
        ctx.strokeStyle = color;
        ctx.lineCap = 'round';
        let rowMax = 1;
        if (focus) {
            rowMax = 0;
            for (let k = 0; k < T; k++) rowMax = Math.max(rowMax, focus.side === 'q' ? A[focus.i * T + k] : A[k * T + focus.i]);
        }
        for (let i = 0; i < T; i++) {
            if (focus && focus.side === 'q' && i !== focus.i) continue;
            for (let j = 0; j < T; j++) {
                if (focus && focus.side === 'k' && j !== focus.i) continue;
                const w = A[i * T + j];
                if (w <= minW) continue;
                ctx.globalAlpha = focus ? 0.15 + 0.85 * (w / (rowMax || 1)) : Math.min(1, 0.08 + w * 1.4);
                ctx.lineWidth = Math.max(0.4, w * (T <= 24 ? 9 : 6));
                ctx.beginPath();
                ctx.moveTo(xl - 2, y(i));
                ctx.bezierCurveTo(xl + g.gap * 0.4, y(i), xr - g.gap * 0.4, y(j), xr + 2, y(j));
                ctx.stroke();
            }
        }
        ctx.globalAlpha = 1;
        // The labels, with the focused weight behind each key when a query is focused.
        ctx.font = g.font;
        ctx.textBaseline = 'middle';
        for (let i = 0; i < T; i++) {
            const t = S.tokens[i], label = shorten(this.app.label(i), 16);
            for (const side of ['q', 'k']) {
                const isFocus = focus && focus.side === side && focus.i === i;
                const w = focus && focus.side !== side ? (side === 'k' ? A[focus.i * T + i] : A[i * T + focus.i]) : null;
                const x0 = side === 'q' ? 4 : xr + 4, bw = g.labelW - 8;
                if (isFocus) {
                    ctx.fillStyle = '#fde7d2';
                    ctx.fillRect(x0, y(i) - g.rowH / 2 + 1, bw, g.rowH - 2);
                } else if (w !== null) {
                    ctx.fillStyle = color;
                    ctx.globalAlpha = 0.18;
                    const len = bw * (w / (rowMax || 1));
                    ctx.fillRect(side === 'q' ? x0 + bw - len : x0, y(i) - g.rowH / 2 + 1, len, g.rowH - 2);
                    ctx.globalAlpha = 1;
                }
                ctx.fillStyle = t.special ? '#8a8fa0' : isFocus ? '#9a3412' : '#1f2433';
                ctx.textAlign = side === 'q' ? 'right' : 'left';
                ctx.fillText(label, side === 'q' ? xl - 8 : xr + 8, y(i));
                if (w !== null && g.rowH >= 13) {
                    ctx.fillStyle = '#555';
                    ctx.textAlign = side === 'q' ? 'left' : 'right';
                    ctx.fillText(fmt(w, 2), side === 'q' ? 6 : xr + g.labelW - 6, y(i));
                }
            }
        }
        drawPairSplit(ctx, S.pairStart, [[4, g.labelW - 4], [xr + 4, xr + g.labelW - 4]], g.top + S.pairStart * g.rowH);
    }

    hoverHeadView(ev) {
        const { S } = this.app, g = this.geometry(), r = this.headCanvas.getBoundingClientRect();
        const x = ev.clientX - r.left, i = Math.floor((ev.clientY - r.top - g.top) / g.rowH);
        if (i < 0 || i >= S.T) { tip(ev, null); return; }
        const side = x < g.labelW + g.gap / 2 ? 'q' : 'k';
        if (!this.pinned || this.pinned.i !== i || this.pinned.side !== side) {
            this.pinned = { i, side };
            this.app.setFocus(i);
            this.drawHeadView();
            this.heat?.highlight(side === 'q' ? { row: i } : { col: i });
        }
        tip(ev, side === 'q' ? `query ${i} “${this.app.label(i)}” attends…` : `…key ${i} “${this.app.label(i)}” is attended by`);
    }

    // ---- the heatmap -------------------------------------------------------------------------
    drawHeatmap() {
        const { S } = this.app, A = this.A, T = S.T, labels = this.app.labels();
        let hi = 0;
        for (let k = 0; k < A.length; k++) if (A[k] > hi) hi = A[k];
        const opts = {
            rows: T, cols: T, valueAt: (i, j) => A[i * T + j], scale: scale(SEQ, 0, hi || 1),
            rowLabels: labels, colLabels: labels, rowTick: T > 40 ? 16 : 0, colTick: T > 40 ? 16 : 0,
            maxW: roomIn(this.mapBox), maxH: 480, digits: 2, legendText: 'weight',
            ...this.app.split(),
            tipText: (i, j, v) => [h('b', {}, fmt(v, 4)), h('br'), `query ${i} “${labels[i]}” → key ${j} “${labels[j]}”`],
            onHover: (i, j) => { if (i >= 0) { this.pinned = { i, side: 'q' }; this.app.setFocus(i); } },
            onClick: (i) => this.app.setQrow(i),
        };
        if (!this.heat) {
            this.heat = new Heatmap(opts);
            this.mapBox.replaceChildren(this.heat.el);
        } else this.heat.update(opts);
    }

    // ---- the grid of every layer x head ----------------------------------------------------------
    buildGrid() {
        const { S } = this.app, L = S.model.n_layers, H = S.model.n_heads;
        if (this.gridBuilt === S.gen) return;
        this.gridBuilt = S.gen;
        this.thumbs = [];
        const cells = [h('span'), ...Array.from({ length: H }, (_, k) => {
            const s = h('span', { class: 'gh' }, `H${k}`);
            s.style.color = headColor(k);
            return s;
        })];
        for (let l = 0; l < L; l++) {
            cells.push(h('span', { class: 'gl' }, `L${l}`));
            this.thumbs[l] = [];
            for (let k = 0; k < H; k++) {
                const c = h('canvas', { class: `thumb${S.T < 64 ? ' pixel' : ''}`, width: S.T, height: S.T, title: `layer ${l}, head ${k}`, 'data-l': l, 'data-h': k });
                c.addEventListener('click', () => {
                    this.app.setHead(k);
                    this.app.setLayer(l);
                    this.el.scrollIntoView({ behavior: 'smooth', block: 'start' });
                });
                this.thumbs[l][k] = c;
                // Where the second sentence starts: dashed lines over the map (the pixels
                // under them stay the weights'), at the row and the column of its first token.
                const marks = S.pairStart > 0 ? ['row', 'col'].map((d) => {
                    const m = h('span', { class: `thumb-split ${d}` });
                    m.style[d === 'row' ? 'top' : 'left'] = `${(100 * S.pairStart) / S.T}%`;
                    return m;
                }) : [];
                cells.push(h('span', { class: 'thumbbox' }, c, ...marks));
            }
        }
        this.gridBox.style.gridTemplateColumns = `auto repeat(${H}, minmax(0, 64px))`;
        this.gridBox.replaceChildren(...cells);
        this.drawn = new Set();
        this.gridNote.textContent = `${L} layers × ${H} heads`;
    }

    gridVisible() {
        const r = this.gridBox.getBoundingClientRect();
        return r.top < window.innerHeight + 200 && r.bottom > -200 && !this.el.hidden;
    }

    markGrid() {
        const { S } = this.app;
        for (const row of this.thumbs ?? []) for (const c of row) c.classList.remove('on');
        const row = this.thumbs?.[S.layer];
        if (!row) return;
        for (const [k, c] of row.entries()) if (S.head === 'avg' || S.head === k) c.classList.add('on');
    }

    drawThumbs() {
        const { S } = this.app, T = S.T, H = S.model.n_heads, per = T * T;
        for (const [l, all] of S.attn) {
            if (this.drawn.has(l) || !this.thumbs[l]) continue;
            this.drawn.add(l);
            for (let k = 0; k < H; k++) {
                const c = this.thumbs[l][k], ctx = c.getContext('2d'), img = ctx.createImageData(T, T), px = img.data;
                let hi = 0;
                for (let i = 0; i < per; i++) hi = Math.max(hi, all[k * per + i]);
                const sc = scale(SEQ, 0, hi || 1);
                for (let i = 0; i < per; i++) {
                    const q = 3 * sc.index(all[k * per + i]);
                    px[4 * i] = SEQ[q]; px[4 * i + 1] = SEQ[q + 1]; px[4 * i + 2] = SEQ[q + 2]; px[4 * i + 3] = 255;
                }
                ctx.putImageData(img, 0, 0);
                c.classList.add('ready');
            }
        }
    }

    // Fetches the layers not seen yet, a few at a time, drawing each batch as it comes.
    async loadGrid() {
        const { S } = this.app;
        if (!S.input || this.el.hidden || this.gridLoading === S.gen) { this.drawThumbs?.(); return; }
        this.gridLoading = S.gen;
        const gen = S.gen, L = S.model.n_layers, H = S.model.n_heads;
        const per = Math.max(1, Math.floor(MAX_GRID_FLOATS / (H * S.T * S.T)));
        this.drawThumbs();
        try {
            for (let l = 0; l < L && gen === S.gen; l += per) {
                const layers = [];
                for (let k = l; k < Math.min(L, l + per); k++) if (!S.attn.has(k)) layers.push(k);
                this.gridNote.textContent = `${L} layers × ${H} heads · loading layers ${l}–${Math.min(L, l + per) - 1}…`;
                if (layers.length) await this.app.needAttention(layers);
                if (gen !== S.gen) return;
                this.drawThumbs();
                await new Promise((r) => setTimeout(r, 0)); // let the page breathe between batches
            }
            this.gridNote.textContent = `${L} layers × ${H} heads`;
        } catch (e) {
            if (gen === S.gen) { this.gridLoading = null; this.app.error(e); }
        }
    }
}

// A dashed line over the given spans [[x0, x1], ...] at height y where the second sentence
// starts (nothing without one), labelled "B" at its left.
export function drawPairSplit(ctx, pairStart, spans, y) {
    if (!(pairStart > 0)) return;
    ctx.save();
    ctx.strokeStyle = '#0f766e';
    ctx.lineWidth = 2;
    ctx.setLineDash([5, 3]);
    for (const [x0, x1] of spans) {
        ctx.beginPath();
        ctx.moveTo(x0, y);
        ctx.lineTo(x1, y);
        ctx.stroke();
    }
    ctx.setLineDash([]);
    ctx.fillStyle = '#0f766e';
    ctx.font = 'bold 10px system-ui, "DejaVu Sans", sans-serif';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.fillText('B', spans[0][0], y + 1);
    ctx.restore();
}
