// Checks the Kubernetes manifests of docker/k8s/ without a cluster:
//  1. schema: every document against the Kubernetes API's JSON schemas, as compiled by the
//     npm package kubernetes-models (types, required fields, enums, formats);
//  2. strict: no field the API does not know (a typo the schema check lets through, as
//     kubeconform -strict would catch), from the type map of the official JavaScript client
//     @kubernetes/client-node (its generated models, imported one file each);
//  3. kustomization.yaml lists every manifest of the folder, and the Deployment's
//     references (ConfigMap, PVC, HPA target, Service and PDB selectors) point at objects here.
// Usage: node k8s.mjs DIR (docker/k8s). Prints one line per document and "N passed, N failed".
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

const dir = process.argv[2] ?? "../k8s";
let passed = 0, failed = 0;
const ok = (m) => { passed++; console.log(`  ok   ${m}`); };
const bad = (m) => { failed++; console.log(`  FAIL ${m}`); };

// ---- strict: unknown fields, walking the client's attributeTypeMap ----
const typeMaps = new Map();
async function attributes(type) {
  if (!typeMaps.has(type)) {
    let map = null;
    try {
      const mod = await import(`@kubernetes/client-node/dist/gen/models/${type}.js`);
      map = mod[type]?.getAttributeTypeMap?.() ?? null;
    } catch { map = null; }
    typeMaps.set(type, map);
  }
  return typeMaps.get(type);
}
async function unknownFields(value, type, path, out) {
  if (value === null || value === undefined) return;
  let m;
  if ((m = /^Array<(.+)>$/.exec(type))) {
    if (Array.isArray(value)) for (let i = 0; i < value.length; i++) await unknownFields(value[i], m[1], `${path}[${i}]`, out);
    return;
  }
  if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    if (typeof value === "object") for (const [k, v] of Object.entries(value)) await unknownFields(v, m[1], `${path}.${k}`, out);
    return;
  }
  if (!/^[A-Z]/.test(type) || typeof value !== "object" || Array.isArray(value)) return; // primitives, IntOrString, Date...
  const attrs = await attributes(type);
  if (!attrs) return;
  const known = new Map(attrs.map((a) => [a.baseName, a.type]));
  for (const [k, v] of Object.entries(value)) {
    if (!known.has(k)) out.push(`${path}.${k}: unknown field of ${type}`);
    else await unknownFields(v, known.get(k), `${path}.${k}`, out);
  }
}

// ---- the manifests ----
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
const objects = [];
for (const file of files) {
  const docs = parseAllDocuments(readFileSync(join(dir, file), "utf8"));
  for (const doc of docs) {
    if (doc.errors.length) { bad(`${file}: YAML: ${doc.errors[0].message}`); continue; }
    const obj = doc.toJS();
    if (!obj) continue;
    if (obj.kind === "Kustomization") { objects.push({ file, obj }); continue; }
    const name = `${file}: ${obj.apiVersion} ${obj.kind} ${obj.metadata?.name}`;
    const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : [null, obj.apiVersion];
    let Model;
    try {
      Model = (await import(`kubernetes-models/${group ? group + "/" : ""}${version}/${obj.kind}`))[obj.kind];
    } catch (e) { bad(`${name}: no schema for this apiVersion/kind (${e.message})`); continue; }
    try { new Model(obj).validate(); } catch (e) { bad(`${name}: schema: ${e.message}`); continue; }
    const unknown = [];
    const clientType = version[0].toUpperCase() + version.slice(1) + obj.kind;
    if (!(await attributes(clientType))) { bad(`${name}: the client has no model ${clientType}`); continue; }
    await unknownFields(obj, clientType, obj.kind, unknown);
    if (unknown.length) { bad(`${name}: ${unknown.join("; ")}`); continue; }
    ok(`${name}: valid (schema and no unknown field)`);
    objects.push({ file, obj });
  }
}

// ---- the manifests together ----
const byKind = (k) => objects.filter((o) => o.obj.kind === k).map((o) => o.obj);
const kust = byKind("Kustomization")[0];
if (!kust) bad("kustomization.yaml: missing");
else {
  const listed = new Set(kust.resources ?? []);
  const missing = files.filter((f) => f !== "kustomization.yaml" && !listed.has(f));
  const extra = [...listed].filter((f) => !files.includes(f));
  if (missing.length || extra.length) bad(`kustomization.yaml: not listed ${missing.join(", ") || "-"}; listed but absent ${extra.join(", ") || "-"}`);
  else ok(`kustomization.yaml lists the ${listed.size} manifests`);
}
const dep = byKind("Deployment")[0];
if (dep) {
  const labels = dep.spec.template.metadata.labels;
  const matches = (sel) => sel && Object.entries(sel).every(([k, v]) => labels[k] === v);
  const problems = [];
  const names = (k) => byKind(k).map((o) => o.metadata.name);
  for (const v of dep.spec.template.spec.volumes ?? []) {
    if (v.configMap && !names("ConfigMap").includes(v.configMap.name)) problems.push(`volume ${v.name}: no ConfigMap ${v.configMap.name}`);
    if (v.persistentVolumeClaim && !names("PersistentVolumeClaim").includes(v.persistentVolumeClaim.claimName)) problems.push(`volume ${v.name}: no PVC ${v.persistentVolumeClaim.claimName}`);
  }
  if (!matches(dep.spec.selector.matchLabels)) problems.push("Deployment selector does not match its pod labels");
  for (const s of byKind("Service")) if (!matches(s.spec.selector)) problems.push(`Service ${s.metadata.name} selects no encoderd pod`);
  for (const p of byKind("PodDisruptionBudget")) if (!matches(p.spec.selector.matchLabels)) problems.push(`PDB ${p.metadata.name} selects no encoderd pod`);
  for (const h of byKind("HorizontalPodAutoscaler")) {
    const t = h.spec.scaleTargetRef;
    if (t.kind !== "Deployment" || t.name !== dep.metadata.name) problems.push(`HPA ${h.metadata.name} targets ${t.kind} ${t.name}`);
  }
  const c = dep.spec.template.spec.containers[0];
  const port = (c.ports ?? []).map((p) => p.name);
  for (const pr of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    if (c[pr]?.httpGet?.path !== "/health" || !port.includes(c[pr]?.httpGet?.port)) problems.push(`${pr} is not GET /health on a named port`);
  }
  if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory) problems.push("no CPU or memory request (the HPA needs the CPU one)");
  if (problems.length) bad(`references: ${problems.join("; ")}`);
  else ok("references: volumes, selectors, HPA target and probes agree");
}

console.log(`k8s-check: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
