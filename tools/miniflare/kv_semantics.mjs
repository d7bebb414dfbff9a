import { Miniflare } from "miniflare";
const mf = new Miniflare({ modules: true, script: "export default { fetch() { return new Response('') } }", kvNamespaces: ["KV"] });
const kv = await mf.getKVNamespace("KV");
const out = {};
async function attempt(name, fn) { try { out[name] = await fn(); } catch (e) { out[name] = "ERROR: " + String(e.message).slice(0, 160); } }
for (const k of ["b","a","A","a/1","a/2","a/10","é","z","Z","a:x","ab"]) await kv.put(k, "v");
await attempt("order", async () => (await kv.list()).keys.map(k => k.name));
await attempt("page1", async () => { const p = await kv.list({limit: 3}); return {names: p.keys.map(k=>k.name), complete: p.list_complete, cursor: !!p.cursor}; });
await attempt("lastpage", async () => { const p = await kv.list({prefix: "a/", limit: 3}); return {names: p.keys.map(k=>k.name), complete: p.list_complete, cursor: p.cursor ?? null}; });
await attempt("exactpage", async () => { const p = await kv.list({prefix: "a/", limit: 2}); const q = await kv.list({prefix: "a/", limit: 2, cursor: p.cursor}); return {p1: p.list_complete, q: q.keys.map(k=>k.name), q_complete: q.list_complete, q_cursor: q.cursor ?? null}; });
await attempt("key_empty", () => kv.put("", "v"));
await attempt("key_dot", () => kv.put(".", "v"));
await attempt("key_dotdot", () => kv.put("..", "v"));
await attempt("key_513", () => kv.put("a".repeat(513), "v"));
await attempt("key_512", () => kv.put("a".repeat(512), "v"));
await attempt("ttl_59", () => kv.put("t", "v", {expirationTtl: 59}));
await attempt("ttl_60", () => kv.put("t", "v", {expirationTtl: 60}));
const now = Math.floor(Date.now()/1000);
await attempt("exp_59", () => kv.put("t", "v", {expiration: now + 59}));
await attempt("exp_61", () => kv.put("t", "v", {expiration: now + 61}));
await attempt("both", async () => { await kv.put("both", "v", {expiration: now + 1000, expirationTtl: 100}); const l = await kv.list({prefix: "both"}); return l.keys[0].expiration - now; });
await attempt("meta_1025", () => kv.put("m", "v", {metadata: {x: "y".repeat(1020)}}));
await attempt("list_0", () => kv.list({limit: 0}));
await attempt("list_1001", () => kv.list({limit: 1001}));
await attempt("bad_cursor", () => kv.list({cursor: "%%%"}));
await attempt("json_invalid", async () => { await kv.put("j", "not json"); return kv.get("j", "json"); });
await attempt("ttl_float", () => kv.put("t", "v", {expirationTtl: 60.5}));
for (const [k, v] of Object.entries(out)) { const s = (v && Array.isArray(v.keys)) ? {names: v.keys.map(x => x.name.slice(0,6)), complete: v.list_complete} : v; console.log(k.padEnd(13), JSON.stringify(s === undefined ? "ok(undefined)" : s).slice(0, 200)); }
await mf.dispose();
