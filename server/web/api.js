// api.js - talking to encoderd: POST /encode and GET /model on the server that served
// this page (relative URLs, so a path prefix behind a proxy works too), base64 tensors
// decoded into Float32Arrays, errors turned into something a person can read.

let apiKey = null; // only in memory: asked for when the server answers 401

export function setApiKey(key) { apiKey = key || null; }

// An error the page shows: a title, the server's own message, the HTTP status (0 when
// the server could not be reached) and, for some, a hint of what to do.
export class ApiError extends Error {
    constructor(status, title, message, hint = '') {
        super(message);
        this.status = status;
        this.title = title;
        this.hint = hint;
    }
}

const TITLES = {
    400: 'The request was not valid JSON',
    401: 'This server needs an API key',
    404: 'Not found',
    405: 'Method not allowed',
    413: 'Too long',
    415: 'Unsupported content type',
    422: 'Not a valid input',
    429: 'The server is busy',
    500: 'The server failed (a bug)',
    503: 'The server is unavailable',
};

function hintFor(status, message) {
    if (status === 413 && /max_len/.test(message))
        return 'Shorten the text, or tick “truncate” to keep the first max_len tokens.';
    if (status === 413) return 'Ask for fewer layers or heads, or a shorter input.';
    if (status === 422 && /text_pair/.test(message)) return 'This server does not take a second sentence: clear the second box and press Enter again.';
    if (status === 422 && /empty|no tokens/.test(message)) return 'Type a sentence first, then press Enter.';
    if (status === 422 && /vocabulary/.test(message)) return 'Token ids must be below the model’s vocab_size (see the Model tab).';
    if (status === 429 || status === 503) return 'Wait a moment and press Enter again.';
    if (status === 401) return 'Enter the key below; it stays in this tab’s memory only.';
    return '';
}

async function request(method, path, body, signal) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    let res;
    try {
        res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (e) {
        if (e.name === 'AbortError') throw e;
        throw new ApiError(0, 'Cannot reach encoderd', `${method} ${path}: ${e.message}`,
            'Is the server still running? Reload the page once it is.');
    }
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON: reported below */ }
    if (!res.ok) {
        const message = json?.error?.message ?? (text.slice(0, 300) || res.statusText);
        throw new ApiError(res.status, TITLES[res.status] ?? `Error ${res.status}`, message, hintFor(res.status, message));
    }
    if (json === null) throw new ApiError(res.status, 'Unexpected answer', `${method} ${path} did not answer JSON`);
    return { json, text };
}

export const getModel = (signal) => request('GET', 'model', undefined, signal).then((r) => r.json);
// GET /model/weights (small models only): { model, tensors: [{ name, shape, data }] }.
export const getWeights = (signal) => request('GET', 'model/weights', undefined, signal).then((r) => r.json);

// POST /encode; `base64` float tensors come back as { shape, data: Float32Array }.
export async function encode(body, signal) {
    const { json, text } = await request('POST', 'encode', body, signal);
    for (const k of FLOAT_OUTPUTS)
        if (json[k] && typeof json[k] === 'object' && json[k].dtype === 'float32') json[k] = decodeTensor(json[k]);
    return { json, bytes: text.length };
}

// The outputs of /encode that are float tensors (base64 when asked so).
const FLOAT_OUTPUTS = ['embedding', 'token_embeddings', 'hidden_states', 'attention', 'scores', 'queries', 'keys',
    'values', 'head_outputs', 'attention_output', 'ffn_intermediate', 'attention_norms', 'rollout'];

// POST /fill-mask {text, top_k}: per mask token a list of {id, token, score}.
export const fillMask = (body, signal) => request('POST', 'fill-mask', body, signal).then((r) => r.json);

// What this server offers beyond the first API, without provoking an error to find out:
// the /encode outputs GET /model lists (else those of openapi.yaml's enum), and whether
// ablate and /fill-mask are there (they come with the model card's has_mlm_head). A
// second sentence (text_pair) is simply sent: a server without it answers a clear 422.
export async function getFeatures(model, signal) {
    const interp = 'has_mlm_head' in model;
    let outputs = Array.isArray(model.outputs) ? model.outputs : null;
    if (!outputs) {
        let doc = '';
        try {
            const res = await fetch('openapi.yaml', { signal });
            if (res.ok) doc = await res.text();
        } catch (e) {
            if (e.name === 'AbortError') throw e;
        }
        const m = /enum:\s*\[(tokens,[^\]]*)\]/.exec(doc);
        outputs = m ? m[1].split(',').map((s) => s.trim()) : ['tokens', 'embedding', 'token_embeddings', 'hidden_states', 'attention'];
    }
    return { outputs: new Set(outputs), fillMask: interp, ablate: interp };
}

// The raw JSON text of a request (for the download links).
export async function encodeText(body, signal) {
    return (await request('POST', 'encode', body, signal)).text;
}
export async function modelText(signal) {
    return (await request('GET', 'model', undefined, signal)).text;
}

const B64 = new Uint8Array(128);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => { B64[c.charCodeAt(0)] = i; });

// base64 of little-endian float32 -> Float32Array (a plain loop: fast on megabytes).
export function decodeTensor(t) {
    const s = t.data;
    let pad = 0;
    if (s.endsWith('==')) pad = 2;
    else if (s.endsWith('=')) pad = 1;
    const nbytes = (s.length / 4) * 3 - pad;
    const bytes = new Uint8Array(Math.ceil(nbytes / 4) * 4 || 4);
    let o = 0;
    for (let i = 0; i < s.length; i += 4) {
        const v = (B64[s.charCodeAt(i)] << 18) | (B64[s.charCodeAt(i + 1)] << 12) |
            (B64[s.charCodeAt(i + 2)] << 6) | B64[s.charCodeAt(i + 3)];
        bytes[o++] = v >> 16;
        if (o < nbytes) bytes[o++] = (v >> 8) & 255;
        if (o < nbytes) bytes[o++] = v & 255;
    }
    const n = t.shape.reduce((a, b) => a * b, 1);
    const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    if (!little) for (let i = 0; i < nbytes; i += 4) bytes.subarray(i, i + 4).reverse();
    return { shape: t.shape, data: new Float32Array(bytes.buffer, 0, n) };
}

// Code point offsets (the API's) -> UTF-16 offsets (JavaScript's): utf16[k] is where
// code point k starts; utf16[length] is the string's length.
export function codePointIndex(text) {
    const at = [0];
    let u = 0;
    for (const ch of text) { u += ch.length; at.push(u); }
    return at;
}
