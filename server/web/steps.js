// steps.js - the "Step by step" tab (small models such as the article's toy): one
// forward pass worked in this page from the weights (GET /model/weights) and the server's
// hidden_states[0], every matrix printed beside its formula: embeddings, positions, their
// sum, then for the chosen layer Q, K, V per head, the scores, the softmax, Z, the
// concatenation, W_O, the residual sum, LayerNorm, the feed-forward network before and
// after its activation, and the layer's output. The page's output of every layer is set
// against the server's hidden_states, so a wrong step shows.
import { getWeights } from './api.js';
import { fmt, h } from './draw.js';
import { positionTable } from './layers.js';

// A matrix: { r, c, d: Float64Array(r * c) } in row-major order.
const mat = (r, c, d = new Float64Array(r * c)) => ({ r, c, d });

// X (T, in) times W stored (out, in), as PyTorch stores a linear layer, plus b (out).
function linear(X, W, b) {
    const [out, inn] = W.shape, Y = mat(X.r, out);
    for (let i = 0; i < X.r; i++)
        for (let o = 0; o < out; o++) {
            let s = b ? b.data[o] : 0;
            for (let k = 0; k < inn; k++) s += X.d[i * inn + k] * W.data[o * inn + k];
            Y.d[i * out + o] = s;
        }
    return Y;
}

function add(A, B) { return mat(A.r, A.c, A.d.map((v, k) => v + B.d[k])); }

// Each row scaled to mean 0 and variance 1 (the biased variance, as PyTorch), then gamma, beta.
function layerNorm(X, gamma, beta, eps) {
    const Y = mat(X.r, X.c);
    for (let i = 0; i < X.r; i++) {
        let mean = 0, v = 0;
        for (let k = 0; k < X.c; k++) mean += X.d[i * X.c + k] / X.c;
        for (let k = 0; k < X.c; k++) v += (X.d[i * X.c + k] - mean) ** 2 / X.c;
        for (let k = 0; k < X.c; k++) Y.d[i * X.c + k] = ((X.d[i * X.c + k] - mean) / Math.sqrt(v + eps)) * gamma.data[k] + beta.data[k];
    }
    return Y;
}

// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): JavaScript has no erf.
function erf(x) {
    const s = Math.sign(x), a = Math.abs(x), t = 1 / (1 + 0.3275911 * a);
    const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
    return s * y;
}
const ACTIVATIONS = {
    relu: (x) => Math.max(0, x),
    gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
};

// One encoder layer (post-LN), keeping every intermediate matrix for display.
export function layerSteps(X, w, l, m) {
    const P = (name) => w.get(`layer${l}.${name}`), H = m.n_heads, Dh = m.d_head, T = X.r;
    const heads = [];
    const concat = mat(T, H * Dh);
    for (let k = 0; k < H; k++) {
        const Q = linear(X, P(`head${k}.W_q`), P(`head${k}.b_q`));
        const K = linear(X, P(`head${k}.W_k`), P(`head${k}.b_k`));
        const V = linear(X, P(`head${k}.W_v`), P(`head${k}.b_v`));
        const S = mat(T, T), A = mat(T, T), Z = mat(T, Dh);
        for (let i = 0; i < T; i++) {
            let max = -Infinity;
            for (let j = 0; j < T; j++) {
                let s = 0;
                for (let d = 0; d < Dh; d++) s += Q.d[i * Dh + d] * K.d[j * Dh + d];
                S.d[i * T + j] = s / Math.sqrt(Dh);
                max = Math.max(max, S.d[i * T + j]);
            }
            let sum = 0;
            for (let j = 0; j < T; j++) sum += (A.d[i * T + j] = Math.exp(S.d[i * T + j] - max));
            for (let j = 0; j < T; j++) A.d[i * T + j] /= sum;
            for (let d = 0; d < Dh; d++) {
                let z = 0;
                for (let j = 0; j < T; j++) z += A.d[i * T + j] * V.d[j * Dh + d];
                Z.d[i * Dh + d] = z;
                concat.d[i * H * Dh + k * Dh + d] = z;
            }
        }
        heads.push({ Q, K, V, S, A, Z });
    }
    const O = linear(concat, P('W_o'), P('b_o'));
    const R1 = add(X, O);
    const U = layerNorm(R1, P('ln1.gamma'), P('ln1.beta'), m.ln_eps);
    const F1 = linear(U, P('W_1'), P('b_1'));
    const act = ACTIVATIONS[m.activation];
    const F1a = mat(F1.r, F1.c, F1.d.map((x) => act(x)));
    const F2 = linear(F1a, P('W_2'), P('b_2'));
    const R2 = add(U, F2);
    const Y = layerNorm(R2, P('ln2.gamma'), P('ln2.beta'), m.ln_eps);
    return { X, heads, concat, O, R1, U, F1, F1a, F2, R2, Y };
}

export class StepsView {
    constructor(app) {
        this.app = app;
        this.layer = 0;
        this.body = h('div', { class: 'steps-body' });
        this.el = h('section', { class: 'view', 'data-view': 'steps' }, this.body);
    }

    reset() { this.chain = null; this.embedding = null; }

    async render() {
        const { S } = this.app, m = S.model;
        if (m.pre_ln || !ACTIVATIONS[m.activation] || m.positions !== 'sinusoidal' || m.embedding_layernorm || m.type_vocab_size) {
            this.body.replaceChildren(h('p', { class: 'missing', 'data-testid': 'missing' },
                'The step-by-step view follows the article’s model: post-LN layers, sinusoidal positions, no token types and no LayerNorm on the embeddings. This model differs, so its steps are not worked here.'));
            return;
        }
        if (!this.weights) {
            this.weightsP ??= getWeights();
            try {
                const w = await this.weightsP;
                this.weights = new Map(w.tensors.map((t) => [t.name, { shape: t.shape, data: Float64Array.from(t.data.flat()) }]));
            } catch (e) {
                this.weightsP = null;
                this.body.replaceChildren(h('p', { class: 'missing' }, `The weights could not be read (GET /model/weights): ${e.message}`));
                return;
            }
        }
        await this.app.needHidden();
        if (!S.hidden || S.tab !== 'steps') return;
        if (!this.embedding && m.pooling !== 'none') {
            const json = await this.app.encode({ outputs: ['embedding'] });
            if (!json || S.tab !== 'steps') return;
            this.embedding = json.embedding.data;
        }
        const T = S.T, D = m.d_model, L = m.n_layers;
        // The whole pass from hidden_states[0]: each layer's input is the page's own output
        // of the layer before, never the server's.
        if (!this.chain) {
            const X0 = mat(T, D, Float64Array.from(S.hidden.subarray(0, T * D)));
            this.chain = [];
            let X = X0;
            for (let l = 0; l < L; l++) { const st = layerSteps(X, this.weights, l, m); this.chain.push(st); X = st.Y; }
        }
        this.layer = Math.min(this.layer, L - 1);
        const worst = this.chain.map((st, l) => {
            const ref = S.hidden.subarray((l + 1) * T * D, (l + 2) * T * D);
            let w = 0;
            for (let k = 0; k < T * D; k++) w = Math.max(w, Math.abs(st.Y.d[k] - ref[k]));
            return w;
        });
        const bad = worst.some((w) => !(w < 1e-3));
        const select = h('select', { 'data-testid': 'steps-layer', onchange: (ev) => { this.layer = Number(ev.target.value); this.render(); } },
            Array.from({ length: L }, (_, k) => h('option', { value: String(k), selected: k === this.layer }, `layer ${k}`)));
        this.body.replaceChildren(
            h('div', { class: 'card' },
                h('div', { class: 'card-head' }, h('h3', {}, 'One forward pass, step by step'), h('label', { class: 'layer' }, 'layer ', select)),
                h('p', { class: 'explain' }, `Every number below is computed in this page from the weights (GET /model/weights) and hidden_states[0], with the formulas beside them; each layer starts from this page’s own output of the layer before. Rows are tokens; numbers are rounded to 4 decimals.`),
                h('p', { class: `check${bad ? ' bad' : ''}`, 'data-testid': 'steps-check' },
                    `${bad ? '✗' : '✓'} This page’s output of each layer against the server’s hidden_states: largest difference ${worst.map((w, l) => `layer ${l}: ${fmt(w, 2)}`).join(', ')}.`)),
            ...(this.layer === 0 ? [this.embeddingCard()] : []),
            ...this.layerCards(this.chain[this.layer], this.layer),
            ...(this.layer === L - 1 && this.embedding ? [this.poolingCard()] : []));
    }

    // The model's output: the last hidden state pooled (and normalised when the model says
    // so), against the server's embedding.
    poolingCard() {
        const { S } = this.app, m = S.model, Y = this.chain[m.n_layers - 1].Y, D = m.d_model, T = S.T;
        const e = mat(1, D);
        for (let d = 0; d < D; d++) {
            if (m.pooling === 'cls') e.d[d] = Y.d[d];
            else for (let i = 0; i < T; i++) e.d[d] += Y.d[i * D + d] / T;
        }
        if (m.normalize) {
            const n = Math.hypot(...e.d) || 1;
            for (let d = 0; d < D; d++) e.d[d] /= n;
        }
        let worst = 0;
        for (let d = 0; d < D; d++) worst = Math.max(worst, Math.abs(e.d[d] - this.embedding[d]));
        const formula = `${m.pooling === 'cls' ? 'X′[0] (the first token’s row)' : 'mean over the tokens of X′'}${m.normalize ? ', divided by its length' : ''}`;
        return h('div', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', {}, 'The output: one vector for the text')),
            h('p', { class: 'explain' }, `The model’s pooling (${m.pooling}) makes one vector of the last layer’s output: the embedding /encode answers.`),
            h('div', { class: 'steps-row' }, this.block(`embedding = ${formula}`, e, { id: 'step-embedding', rowLabels: ['text'] })),
            h('p', { class: `check${worst < 1e-4 ? '' : ' bad'}`, 'data-testid': 'steps-embedding-check' },
                `${worst < 1e-4 ? '✓' : '✗'} Against the server’s embedding: largest difference ${fmt(worst, 2)}.`));
    }

    // A titled matrix: the formula, its shape, its numbers (rows labelled by token).
    block(formula, M, opts = {}) {
        const labels = opts.rowLabels ?? this.app.labels(), cols = opts.colLabels ?? Array.from({ length: M.c }, (_, j) => String(j));
        const rows = Array.from({ length: M.r }, (_, i) => h('tr', {}, h('th', { class: 'tok' }, labels[i]),
            ...Array.from({ length: M.c }, (_, j) => h('td', {}, fmt(M.d[i * M.c + j], 4)))));
        return h('figure', { class: 'step', 'data-testid': opts.id ?? null },
            h('figcaption', {}, h('span', { class: 'formula' }, formula), ' ', h('span', { class: 'meta' }, `${M.r} × ${M.c}${opts.note ? ` · ${opts.note}` : ''}`)),
            h('div', { class: 'scroll x' }, h('table', { class: 'numbers matrix' },
                h('thead', {}, h('tr', {}, h('th', {}), ...cols.map((c) => h('th', {}, c)))), h('tbody', {}, rows))));
    }

    embeddingCard() {
        const { S } = this.app, T = S.T, D = S.model.d_model, X0 = this.chain[0].X, pe = positionTable(T, D);
        const PE = mat(T, D, Float64Array.from(pe)), E = mat(T, D, X0.d.map((v, k) => v - pe[k]));
        return h('div', { class: 'card' },
            h('div', { class: 'card-head' }, h('h3', {}, 'Embeddings and positions')),
            h('p', { class: 'explain' }, `Each token picks its row E[id] of the ${S.model.vocab_size} × ${D} embedding matrix (the server does not send that matrix, so E[id] is read here as hidden_states[0] − PE[pos]) and adds the position row PE[pos].`),
            h('div', { class: 'steps-row' },
                this.block('E[id]', E, { id: 'step-embeddings' }),
                this.block('PE[pos][2i] = sin(pos / 10000^(2i/d)), PE[pos][2i+1] = cos(…)', PE, { id: 'step-positions' }),
                this.block('X = E[id] + PE[pos] = hidden_states[0]', X0, { id: 'step-sum', note: 'from the server' })));
    }

    layerCards(st, l) {
        const m = this.app.S.model, labels = this.app.labels(), dh = m.d_head, H = m.n_heads;
        const card = (title, explain, ...blocks) => h('div', { class: 'card' }, h('div', { class: 'card-head' }, h('h3', {}, title)),
            explain ? h('p', { class: 'explain' }, explain) : null, h('div', { class: 'steps-row' }, ...blocks));
        const heads = st.heads.map((hd, k) => card(`Layer ${l} · head ${k}`,
            `Three linear maps of X give the head’s queries, keys and values (${dh} numbers per token). The scores compare every query with every key; the softmax turns each row into weights summing to 1; Z mixes the values by those weights.`,
            this.block(`Q${k} = X W_q,${k}ᵀ + b_q,${k}`, hd.Q, { id: `step-q-${k}` }),
            this.block(`K${k} = X W_k,${k}ᵀ + b_k,${k}`, hd.K),
            this.block(`V${k} = X W_v,${k}ᵀ + b_v,${k}`, hd.V),
            this.block(`S${k} = Q${k} K${k}ᵀ / √${dh}`, hd.S, { colLabels: labels }),
            this.block(`A${k} = softmax(S${k}) (row by row)`, hd.A, { colLabels: labels, id: `step-softmax-${k}` }),
            this.block(`Z${k} = A${k} V${k}`, hd.Z)));
        const act = m.activation.toUpperCase();
        return [
            card(`Layer ${l} · its input`, l === 0 ? 'hidden_states[0], from the server.' : `This page’s output of layer ${l - 1}.`, this.block('X', st.X, { id: 'step-input' })),
            ...heads,
            card(`Layer ${l} · the heads put together`, `The ${H} heads’ Z side by side, mixed back to d_model by W_O; the layer’s input is added back (the residual) and LayerNorm rescales each row.`,
                this.block(`concat(Z0…Z${H - 1})`, st.concat),
                this.block('Z W_Oᵀ + b_O', st.O),
                this.block('X + Z W_Oᵀ + b_O (residual)', st.R1),
                this.block('U = LayerNorm(X + Z W_Oᵀ + b_O)', st.U)),
            card(`Layer ${l} · the feed-forward network`, `Each token alone: widened to d_ff = ${m.d_ff}, through ${act}, narrowed back to d_model; added to U and normalised again.`,
                this.block('U W_1ᵀ + b_1', st.F1),
                this.block(`${act}(U W_1ᵀ + b_1)`, st.F1a),
                this.block(`F = ${act}(U W_1ᵀ + b_1) W_2ᵀ + b_2`, st.F2),
                this.block('U + F (residual)', st.R2),
                this.block(`X′ = LayerNorm(U + F): the output, hidden_states[${l + 1}]`, st.Y, { id: 'step-output' })),
        ];
    }
}
