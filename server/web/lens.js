// lens.js - the "Logit lens & fill-mask" tab: what the model would predict at each token
// if it stopped after each layer (its hidden state through the output head), as a table of
// layers x tokens with the best guess and its score in each cell; and a box that fills the
// mask tokens of a sentence (POST /fill-mask).
import { fillMask } from './api.js';
import { fmt, h } from './draw.js';

const TOP_K = 5;
const MAX_LENS_TOKENS = 64; // columns of the lens table: the first ones when T is larger

export class LensView {
    constructor(app) {
        this.app = app;
        this.lensBox = h('div', { class: 'scroll x', 'data-testid': 'logit-lens' });
        this.lensNote = h('p', { class: 'explain' });
        this.maskText = h('input', { type: 'text', class: 'mask-text', 'aria-label': 'A sentence with mask tokens', 'data-testid': 'fill-mask-text' });
        this.maskOut = h('div', { class: 'mask-out', 'data-testid': 'fill-mask-out' });
        this.maskForm = h('form', {
            class: 'mask-form', onsubmit: (ev) => { ev.preventDefault(); this.fill(); },
        }, this.maskText, h('button', { type: 'submit', class: 'primary small' }, 'Fill'));
        this.el = h('section', { class: 'view', 'data-view': 'lens' },
            h('div', { class: 'card' },
                h('div', { class: 'card-head' }, h('h3', {}, 'Logit lens: the best guess after each layer'), h('span', { class: 'meta' }, `top ${TOP_K} on hover`)),
                this.lensNote, this.lensBox),
            h('div', { class: 'card' },
                h('div', { class: 'card-head' }, h('h3', {}, 'Fill the mask'), h('span', { class: 'meta' }, 'POST /fill-mask')),
                h('p', { class: 'explain', 'data-testid': 'fill-mask-explain' }),
                this.maskForm, this.maskOut));
        this.maskExplain = this.el.querySelector('[data-testid=fill-mask-explain]');
    }

    reset() { this.lens = null; }

    async render() {
        const { S } = this.app, m = S.model, mask = m.mask_token ?? '[MASK]';
        if (!this.maskText.value) this.maskText.value = `the cat sat on the ${mask} .`;
        const canFill = S.features.fillMask && m.has_mlm_head !== false;
        this.maskForm.hidden = !canFill;
        this.maskExplain.replaceChildren(canFill
            ? `Write ${mask} where a word is missing and press Enter: the model’s ${TOP_K} best tokens for each ${mask}, with their probabilities. Token ids (numbers only) are sent as ids.`
            : this.app.missing(S.features.fillMask ? 'fill-mask for this model (it has no masked-language-model head)' : 'fill-mask (POST /fill-mask)'));
        await this.renderLens();
    }

    async renderLens() {
        const { S } = this.app, m = S.model;
        if (!this.app.has('predictions') || m.has_mlm_head === false) {
            this.lensNote.replaceChildren();
            this.lensBox.replaceChildren(this.app.missing(this.app.has('predictions') ? 'predictions for this model (it has no masked-language-model head)' : 'predictions (/encode output "predictions")'));
            return;
        }
        if (!this.lens) {
            // As JSON (base64 would send ids without their text).
            const gen = S.gen, json = await this.app.encode({ outputs: ['predictions'], top_k: TOP_K, encoding: undefined });
            if (!json || gen !== S.gen) return;
            this.lens = json;
        }
        if (S.tab !== 'lens') return;
        const P = this.lens.predictions, layers = this.lens.layers ?? P.map((_, k) => k), labels = this.app.labels();
        const T = Math.min(S.T, MAX_LENS_TOKENS);
        this.lensNote.textContent = `Each row is a layer: its hidden state of every token sent through the model’s output head, as if the layers above were skipped. A cell shows the best token and its probability; a cell is green where the best guess is the token itself. Hover a cell for the top ${TOP_K}.${S.T > T ? ` The first ${T} of ${S.T} tokens are shown.` : ''}`;
        const head = h('tr', {}, h('th', { class: 'left' }, 'layer'), ...Array.from({ length: T }, (_, i) => h('th', { class: `tokh${i === S.pairStart ? ' pair-start' : ''}` }, labels[i])));
        const rows = P.map((perTok, r) => h('tr', {}, h('th', { class: 'left' }, layerName(layers[r], m.n_layers)),
            ...perTok.slice(0, T).map((top, i) => {
                const best = top[0] ?? { id: -1, token: '', score: NaN };
                const same = best.id === S.tokens[i].id;
                const word = (p) => p.token ?? `#${p.id}`;
                return h('td', {
                    class: `lens${same ? ' same' : ''}${i === S.pairStart ? ' pair-start' : ''}`,
                    title: top.map((p, k) => `${k + 1}. ${word(p)}  ${fmt(p.score, 4)}`).join('\n'),
                }, h('span', { class: 'tt' }, word(best)), h('span', { class: 'sc' }, fmt(best.score, 2)));
            })));
        this.lensBox.replaceChildren(h('table', { class: 'numbers lens-table' }, h('thead', {}, head), h('tbody', {}, rows)));
    }

    async fill() {
        const raw = this.maskText.value.trim();
        // Token ids (numbers only) go as ids, the mask token's id where a token is missing.
        const ids = /^\[?\s*\d+([\s,]+\d+)*\s*\]?$/.test(raw) ? raw.replace(/[[\]]/g, '').split(/[\s,]+/).map(Number) : null;
        this.maskOut.replaceChildren(h('p', { class: 'meta' }, 'filling…'));
        try {
            const json = await fillMask({ ...(ids ? { tokens: ids } : { text: raw }), top_k: TOP_K });
            // One mask: a list of guesses; several: a list of such lists.
            const masks = json.length && !Array.isArray(json[0]) ? [json] : json;
            this.maskOut.replaceChildren(...masks.map((items, k) => h('table', { class: 'numbers' },
                h('thead', {}, h('tr', {}, h('th', { class: 'left' }, `mask ${k + 1}`), h('th', {}, 'id'), h('th', {}, 'score'))),
                h('tbody', {}, items.map((p) => h('tr', {}, h('td', { class: 'tok' }, p.token ?? `#${p.id}`), h('td', {}, String(p.id)), h('td', {}, fmt(p.score, 4))))))));
        } catch (e) {
            this.maskOut.replaceChildren();
            this.app.error(e);
        }
    }
}

// The predictions' layer index is a hidden_states index when there are L + 1 of them.
function layerName(k, L) {
    return k === 0 ? 'embeddings' : k === L ? `layer ${k - 1} (last)` : `layer ${k - 1}`;
}
