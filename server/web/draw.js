// draw.js - what every view draws with: elements, colour maps, a heatmap on canvas
// (labels, numbers when the cells are big enough, a legend, hover), one tooltip, and
// downloads (PNG of a canvas, JSON text).

// h('div', {class: 'x', onclick: f}, child, ...) -> an element. Strings become text.
export function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs ?? {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false)
        el.append(c instanceof Node ? c : String(c));
    return el;
}

// ---- colours -------------------------------------------------------------------------

function ramp(stops) { // stops: '#rrggbb' evenly spaced over [0, 1]
    const rgb = stops.map((s) => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16)));
    const lut = new Uint8Array(256 * 3);
    for (let k = 0; k < 256; k++) {
        const x = (k / 255) * (rgb.length - 1), i = Math.min(Math.floor(x), rgb.length - 2), f = x - i;
        for (let c = 0; c < 3; c++) lut[3 * k + c] = Math.round(rgb[i][c] * (1 - f) + rgb[i + 1][c] * f);
    }
    return lut;
}
// Weights in [0, 1]: white to deep blue. Signed values: blue (negative), white, red.
export const SEQ = ramp(['#ffffff', '#e3ecf7', '#b4cbea', '#7da3d8', '#4a76bd', '#2a4f96', '#152c5e']);
export const DIV = ramp(['#1f4e9c', '#4d7fc0', '#9ebfe0', '#f6f6f6', '#f1a98f', '#d0573f', '#8c1a1a']);
export const TEAL = ramp(['#ffffff', '#d7efe9', '#98d3c4', '#53ad98', '#22806c', '#0b4f42']);

// A colour scale: value -> LUT index. kind 'seq' maps [lo, hi], 'div' maps [-m, m].
export function scale(lut, lo, hi) {
    const span = hi - lo || 1;
    return {
        lut, lo, hi,
        index(v) {
            if (!Number.isFinite(v)) return 0;
            const t = (v - lo) / span;
            return t <= 0 ? 0 : t >= 1 ? 255 : Math.round(t * 255);
        },
    };
}

// A robust symmetric bound: the q-quantile of |x| (so one outlier does not wash the rest out).
export function absQuantile(data, q = 0.99) {
    const n = data.length;
    if (!n) return 1;
    const step = Math.max(1, Math.floor(n / 20000)), sample = [];
    for (let i = 0; i < n; i += step) sample.push(Math.abs(data[i]));
    sample.sort((a, b) => a - b);
    return sample[Math.min(sample.length - 1, Math.floor(q * sample.length))] || 1;
}

// Distinct colours for heads (and their lines).
const HEAD_HUES = [212, 14, 135, 280, 40, 175, 330, 95, 250, 0, 195, 60, 300, 115, 230, 25];
export function headColor(h, alpha = 1) {
    if (h === 'avg') return `rgba(55, 65, 90, ${alpha})`;
    const hue = HEAD_HUES[h % HEAD_HUES.length], light = h >= HEAD_HUES.length ? 35 : 45;
    return `hsla(${hue}, 70%, ${light}%, ${alpha})`;
}

// ---- numbers -------------------------------------------------------------------------

export function fmt(v, digits = 3) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1).replace('-', '−');
    return v.toFixed(digits).replace('-', '−');
}

// ---- the tooltip ------------------------------------------------------------------------

let tipEl = null;
export function tip(ev, html) {
    if (!tipEl) tipEl = document.getElementById('tip');
    if (!html) { tipEl.hidden = true; return; }
    tipEl.replaceChildren(...(Array.isArray(html) ? html : [html]));
    tipEl.hidden = false;
    const pad = 14, w = tipEl.offsetWidth, hgt = tipEl.offsetHeight;
    let x = ev.clientX + pad, y = ev.clientY + pad;
    if (x + w > window.innerWidth - 4) x = ev.clientX - w - pad;
    if (y + hgt > window.innerHeight - 4) y = ev.clientY - hgt - pad;
    tipEl.style.left = `${Math.max(4, x)}px`;
    tipEl.style.top = `${Math.max(4, y)}px`;
}

// ---- canvas helpers ----------------------------------------------------------------------

export const FONT = '12px system-ui, "DejaVu Sans", sans-serif';
export const MONO = '11px ui-monospace, "DejaVu Sans Mono", monospace';

// Room for a heatmap's cells in a box: its width less the labels' margins, within [lo, hi].
export function roomIn(box, lo = 200, hi = 480) {
    const w = box.clientWidth || hi + 140;
    return Math.max(lo, Math.min(hi, w - 140));
}

// Sizes a canvas for CSS pixels w x h at the device's pixel ratio; returns its context
// scaled so that drawing uses CSS pixels.
export function sizeCanvas(canvas, w, hgt) {
    const dpr = Math.min(window.devicePixelRatio || 1, 2);
    canvas.width = Math.max(1, Math.round(w * dpr));
    canvas.height = Math.max(1, Math.round(hgt * dpr));
    canvas.style.width = `${w}px`;
    canvas.style.height = `${hgt}px`;
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return ctx;
}

// One pixel per cell, drawn scaled up without smoothing: fast for any size.
export function cellImage(rows, cols, valueAt, sc) {
    const img = new ImageData(cols, rows), px = img.data, lut = sc.lut;
    for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
            const k = 3 * sc.index(valueAt(i, j)), o = 4 * (i * cols + j);
            px[o] = lut[k]; px[o + 1] = lut[k + 1]; px[o + 2] = lut[k + 2]; px[o + 3] = 255;
        }
    const c = document.createElement('canvas');
    c.width = cols;
    c.height = rows;
    c.getContext('2d').putImageData(img, 0, 0);
    return c;
}

export function shorten(s, n = 14) {
    s = s ?? '';
    return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function lutColor(lut, k) { return `rgb(${lut[3 * k]},${lut[3 * k + 1]},${lut[3 * k + 2]})`; }
function darkAt(lut, k) { return 0.299 * lut[3 * k] + 0.587 * lut[3 * k + 1] + 0.114 * lut[3 * k + 2] < 140; }

// ---- the heatmap -----------------------------------------------------------------------------
// new Heatmap({ rows, cols, valueAt(i, j), scale, rowLabels, colLabels, colTick, maxW,
//               maxH, square, digits, legend, splitRow, splitCol, tipText(i, j, v),
//               onHover(i, j), onClick(i, j) })
// .el is the canvas; update({...}) merges options and redraws; highlight({row, col}).
export class Heatmap {
    constructor(opts) {
        this.o = { maxW: 460, maxH: 460, square: true, digits: 2, minCell: 1, maxCell: 64, ...opts };
        this.hl = {};
        this.el = h('canvas', { class: 'heatmap' });
        this.el.addEventListener('mousemove', (ev) => this.move(ev));
        this.el.addEventListener('mouseleave', (ev) => { tip(ev, null); this.o.onHover?.(-1, -1); });
        this.el.addEventListener('click', (ev) => {
            const c = this.cellAt(ev);
            if (c) this.o.onClick?.(c[0], c[1]);
        });
        this.draw();
    }

    update(opts) { Object.assign(this.o, opts); this.draw(); }

    highlight(hl) { this.hl = hl ?? {}; this.draw(); }

    layout() {
        const o = this.o;
        // Whole pixels per cell, except below 4 where fractions fill the room evenly enough.
        const fit = (room, n) => (room / n >= 4 ? Math.floor(room / n) : room / n);
        let cw = fit(o.maxW, o.cols), ch = fit(o.maxH, o.rows);
        if (o.square) cw = ch = Math.min(cw, ch);
        cw = Math.max(o.minCell, Math.min(o.maxCell, cw));
        ch = Math.max(o.minCell, Math.min(o.square ? o.maxCell : o.maxCellH ?? 28, ch));
        const rowText = o.rowLabels && ch >= 9, colText = o.colLabels && cw >= 9;
        const ctx = this.el.getContext('2d');
        ctx.font = FONT;
        let left = 6, top = 6;
        if (rowText) left = 10 + Math.min(110, Math.max(...o.rowLabels.map((s) => ctx.measureText(shorten(s)).width)));
        else if (o.rowTick) left = 34;
        if (colText) top = 10 + Math.min(90, Math.max(...o.colLabels.map((s) => ctx.measureText(shorten(s)).width)) * 0.75);
        else if (o.colTick) top = 20;
        const legend = o.legend === false ? 0 : 34;
        const right = colText ? Math.min(64, (top - 10) * 0.75 + 4) : 8; // the last rotated label
        const legendW = Math.min(180, Math.max(120, cw * o.cols)); // its bar, then its text
        const w = Math.max(left + cw * o.cols + right, legend ? left + legendW + 80 : 0);
        return { cw, ch, left, top, rowText, colText, legend, legendW, w, hgt: top + ch * o.rows + legend + 4 };
    }

    draw() {
        const o = this.o, L = (this.L = this.layout());
        const ctx = sizeCanvas(this.el, L.w, L.hgt);
        ctx.fillStyle = '#fff';
        ctx.fillRect(0, 0, L.w, L.hgt);
        if (!o.rows || !o.cols) return;
        const img = cellImage(o.rows, o.cols, o.valueAt, o.scale);
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(img, L.left, L.top, L.cw * o.cols, L.ch * o.rows);
        // Numbers in the cells when they fit (the toy model's matrices, read as numbers).
        if (L.cw >= 34 && L.ch >= 15) {
            ctx.font = MONO;
            ctx.textAlign = 'center';
            ctx.textBaseline = 'middle';
            for (let i = 0; i < o.rows; i++)
                for (let j = 0; j < o.cols; j++) {
                    const v = o.valueAt(i, j), k = o.scale.index(v);
                    ctx.fillStyle = darkAt(o.scale.lut, k) ? '#fff' : '#222';
                    ctx.fillText(fmt(v, L.cw >= 52 ? Math.max(o.digits, 3) : o.digits), L.left + (j + 0.5) * L.cw, L.top + (i + 0.5) * L.ch);
                }
        }
        ctx.font = FONT;
        ctx.fillStyle = '#333';
        if (L.rowText) {
            ctx.textAlign = 'right';
            ctx.textBaseline = 'middle';
            o.rowLabels.forEach((s, i) => {
                ctx.fillStyle = this.hl.row === i ? '#c2410c' : '#333';
                ctx.fillText(shorten(s), L.left - 5, L.top + (i + 0.5) * L.ch);
            });
        } else if (o.rowTick) {
            ctx.textAlign = 'right';
            ctx.textBaseline = 'middle';
            ctx.fillStyle = '#666';
            for (let i = 0; i < o.rows; i += o.rowTick) ctx.fillText(String(i), L.left - 4, L.top + (i + 0.5) * L.ch);
        }
        if (L.colText) {
            ctx.textAlign = 'left';
            ctx.textBaseline = 'middle';
            o.colLabels.forEach((s, j) => {
                ctx.save();
                ctx.translate(L.left + (j + 0.5) * L.cw, L.top - 5);
                ctx.rotate(-Math.PI / 4);
                ctx.fillStyle = this.hl.col === j ? '#c2410c' : '#333';
                ctx.fillText(shorten(s), 0, 0);
                ctx.restore();
            });
        } else if (o.colTick) {
            ctx.textAlign = 'center';
            ctx.textBaseline = 'bottom';
            ctx.fillStyle = '#666';
            for (let j = 0; j < o.cols; j += o.colTick) ctx.fillText(String(j), L.left + (j + 0.5) * L.cw, L.top - 4);
        }
        // Where a second sentence starts (splitRow / splitCol: its first token's index).
        ctx.save();
        ctx.strokeStyle = '#0f766e';
        ctx.lineWidth = 2;
        ctx.setLineDash([5, 3]);
        if (o.splitRow > 0 && o.splitRow < o.rows) {
            ctx.beginPath();
            ctx.moveTo(L.left - 4, L.top + o.splitRow * L.ch);
            ctx.lineTo(L.left + L.cw * o.cols + 2, L.top + o.splitRow * L.ch);
            ctx.stroke();
        }
        if (o.splitCol > 0 && o.splitCol < o.cols) {
            ctx.beginPath();
            ctx.moveTo(L.left + o.splitCol * L.cw, L.top - 4);
            ctx.lineTo(L.left + o.splitCol * L.cw, L.top + L.ch * o.rows + 2);
            ctx.stroke();
        }
        ctx.restore();
        const { row, col } = this.hl;
        ctx.strokeStyle = '#f97316';
        ctx.lineWidth = 2;
        if (row >= 0 && row < o.rows) ctx.strokeRect(L.left - 1, L.top + row * L.ch - 1, L.cw * o.cols + 2, L.ch + 2);
        if (col >= 0 && col < o.cols) ctx.strokeRect(L.left + col * L.cw - 1, L.top - 1, L.cw + 2, L.ch * o.rows + 2);
        if (L.legend) this.drawLegend(ctx, L);
    }

    drawLegend(ctx, L) {
        const o = this.o, y = L.top + L.ch * o.rows + 12, x = L.left, w = L.legendW;
        for (let k = 0; k < w; k++) {
            ctx.fillStyle = lutColor(o.scale.lut, Math.round((k / (w - 1)) * 255));
            ctx.fillRect(x + k, y, 1, 8);
        }
        ctx.strokeStyle = '#ccc';
        ctx.lineWidth = 1;
        ctx.strokeRect(x - 0.5, y - 0.5, w + 1, 9);
        ctx.font = '10px system-ui, "DejaVu Sans", sans-serif';
        ctx.fillStyle = '#555';
        ctx.textBaseline = 'top';
        ctx.textAlign = 'left';
        ctx.fillText(fmt(o.scale.lo, 2), x, y + 11);
        ctx.textAlign = 'right';
        ctx.fillText(fmt(o.scale.hi, 2), x + w, y + 11);
        if (o.legendText) {
            ctx.textAlign = 'left';
            ctx.textBaseline = 'middle';
            ctx.fillText(o.legendText, x + w + 10, y + 4);
        }
    }

    cellAt(ev) {
        const r = this.el.getBoundingClientRect(), L = this.L, o = this.o;
        const j = Math.floor((ev.clientX - r.left - L.left) / L.cw), i = Math.floor((ev.clientY - r.top - L.top) / L.ch);
        return i >= 0 && j >= 0 && i < o.rows && j < o.cols ? [i, j] : null;
    }

    move(ev) {
        const c = this.cellAt(ev);
        if (!c) { tip(ev, null); this.o.onHover?.(-1, -1); return; }
        const [i, j] = c, v = this.o.valueAt(i, j);
        tip(ev, this.o.tipText ? this.o.tipText(i, j, v) : fmt(v, 4));
        this.o.onHover?.(i, j);
    }
}

// ---- downloads --------------------------------------------------------------------------------

function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
}
export function savePng(canvas, name) { canvas.toBlob((b) => b && save(b, name), 'image/png'); }
export function saveText(text, name, type = 'application/json') { save(new Blob([text], { type }), name); }

// A small button for a card's header.
export function button(label, title, onclick, cls = 'mini') {
    return h('button', { type: 'button', class: cls, title, onclick }, label);
}
