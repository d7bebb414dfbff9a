import { Miniflare } from "miniflare";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
// Headers objects cannot cross Miniflare's Node proxy, so probes that pass Headers (onlyIf, range, httpMetadata)
// or call writeHttpMetadata run inside this worker; everything else goes through mf.getR2Bucket().
const script = `export default { async fetch(req, env) {
  const q = await req.json(), H = (x) => x && new Headers(x);
  const sum = async (o) => { if (o === null) return null; const r = {}; if ("body" in o) r.text = (await o.text()).slice(0, 24); else r.noBody = true;
    r.key = o.key; r.size = o.size; r.etag = o.etag; if (o.range) r.range = o.range; return r; };
  try {
    if (q.op === "write") { const o = await env.BUCKET.head(q.key), h = new Headers(); if (o === null) return Response.json(null); o.writeHttpMetadata(h); return Response.json([...h]); }
    if (q.op === "get") return Response.json(await sum(await env.BUCKET.get(q.key, { onlyIf: H(q.onlyIf), range: H(q.range) })));
    const o = await env.BUCKET.put(q.key, q.value, { onlyIf: H(q.onlyIf), httpMetadata: H(q.httpMetadata) });
    return Response.json(o && { ...(await sum(o)), httpMetadata: o.httpMetadata });
  } catch (e) { return Response.json("ERROR: " + e.message); } } }`;
const mf = new Miniflare({ modules: true, script, r2Buckets: ["BUCKET"] });
const b = await mf.getR2Bucket("BUCKET");
const out = {};
const W = async (q) => (await mf.dispatchFetch("http://x/", { method: "POST", body: JSON.stringify(q) })).json();
async function attempt(name, fn) { try { out[name] = await fn(); } catch (e) { out[name] = "ERROR: " + String(e.message).replace(/\n/g, " | ").slice(0, 200); } }
const md5 = (s) => createHash("md5").update(s).digest("hex"), sha256 = (s) => createHash("sha256").update(s).digest("hex");
// Short R2Object summary; the body (if any) is read first because inspecting the proxy consumes it.
async function d(o, full = false) {
  if (o === null) return null; if (o === undefined) return "undefined";
  const r = {};
  if (typeof o.text === "function") r.text = (await o.text()).slice(0, 24); else r.noBody = true;
  r.key = short(o.key); r.size = o.size; r.etag = o.etag;
  if (full) Object.assign(r, { version: o.version, httpEtag: o.httpEtag, uploaded: o.uploaded?.toISOString?.() ?? o.uploaded, checksums: o.checksums.toJSON(),
    httpMetadata: o.httpMetadata, customMetadata: o.customMetadata, storageClass: o.storageClass, ssecKeyMd5: o.ssecKeyMd5 });
  if (o.range !== undefined) r.range = o.range;
  return r;
}
const short = (k) => k.length > 12 ? k.slice(0, 6) + "…(" + k.length + ")" : k;
const names = (l) => ({ objs: l.objects.map(o => short(o.key)), dlp: l.delimitedPrefixes, truncated: l.truncated, cursor: l.cursor ?? null });

// 1. put/get/head basics
await attempt("put_return", async () => d(await b.put("a", "hello", { httpMetadata: { contentType: "text/plain" }, customMetadata: { x: "y" } }), true));
await attempt("get_full", async () => d(await b.get("a"), true));
await attempt("head_full", async () => d(await b.head("a"), true));
await attempt("etag_is_md5hex", async () => (await b.head("a")).etag === md5("hello"));
await attempt("httpEtag_quoted", async () => { const o = await b.head("a"); return o.httpEtag === `"${o.etag}"`; });
await attempt("version_fmt", async () => { const v1 = (await b.head("a")).version; const v2 = (await b.put("a", "hello")).version; return { v1, re: /^[0-9a-f]{32}$/.test(v1), changes_on_same_put: v1 !== v2 }; });
await attempt("overwrite_drops_meta", async () => d(await b.head("a"), true).then(r => ({ httpMetadata: r.httpMetadata, customMetadata: r.customMetadata })));
await attempt("uploaded_ms", async () => (await b.head("a")).uploaded.getTime() % 1000 !== 0 ? "ms precision" : "whole second (or coincidence)");
await attempt("get_missing", () => b.get("nope"));
await attempt("head_missing", () => b.head("nope"));
await attempt("put_null", async () => d(await b.put("empty", null), true));
await attempt("get_empty", async () => d(await b.get("empty")));
await attempt("put_u8", async () => d(await b.put("u8", new Uint8Array([1, 2, 3]))));
await attempt("put_arraybuf", async () => d(await b.put("ab", new Uint8Array([1, 2]).buffer)));
await attempt("put_blob", async () => d(await b.put("blob", new Blob(["xyz"]))));
await attempt("put_number", async () => d(await b.put("num", 42)));
await attempt("put_stream_nolen", async () => d(await b.put("st", new Blob(["stream"]).stream())));
await attempt("storageClass_IA", async () => d(await b.put("ia", "v", { storageClass: "InfrequentAccess" }), true).then(r => r.storageClass));
await attempt("storageClass_bad", async () => d(await b.put("ia", "v", { storageClass: "Glacier" }), true).then(r => r.storageClass));
await attempt("custom_nonstring", async () => (await b.put("cm", "v", { customMetadata: { n: 1, t: true } })).customMetadata);

// 2. key and metadata limits
await attempt("key_empty_put", async () => d(await b.put("", "v")));
await attempt("key_empty_get", async () => d(await b.get("")));
await attempt("key_empty_head", async () => d(await b.head("")));
await attempt("key_1024", async () => d(await b.put("k".repeat(1024), "v")));
await attempt("key_1025", async () => d(await b.put("k".repeat(1025), "v")));
await attempt("key_1025_get", async () => d(await b.get("k".repeat(1025))));
await attempt("key_1025_head", async () => d(await b.head("k".repeat(1025))));
await attempt("key_1025_del", () => b.delete("k".repeat(1025)));
await attempt("key_utf8_1026B", async () => d(await b.put("é".repeat(513), "v")));
await attempt("key_dot_dotdot", async () => [(await b.put(".", "v")).key, (await b.put("..", "v")).key, (await b.put("/lead//x/", "v")).key]);
await attempt("key_nul", async () => (await b.put("a\u0000b", "v")).key.length);
await attempt("meta_2048", async () => Object.keys((await b.put("m", "v", { customMetadata: { k: "v".repeat(2047) } })).customMetadata));
await attempt("meta_2049", async () => Object.keys((await b.put("m", "v", { customMetadata: { k: "v".repeat(2048) } })).customMetadata));
await attempt("meta_utf8_count", async () => Object.keys((await b.put("m", "v", { customMetadata: { k: "é".repeat(1500) } })).customMetadata)); // 3001 B utf8, 1501 by miniflare's count
await attempt("meta_bmp_count", async () => Object.keys((await b.put("m", "v", { customMetadata: { k: "€".repeat(1000) } })).customMetadata)); // 1+3000 B utf8, 2002 by miniflare's count
await attempt("meta_bmp_over", async () => Object.keys((await b.put("m", "v", { customMetadata: { k: "€".repeat(1024) } })).customMetadata)); // 2050 by miniflare's count

// 3. checksums
await attempt("md5_hex_ok", async () => d(await b.put("c", "hello", { md5: md5("hello") }), true).then(r => r.checksums));
await attempt("md5_buf_ok", async () => d(await b.put("c", "hello", { md5: new Uint8Array(Buffer.from(md5("hello"), "hex")).buffer }), true).then(r => r.checksums));
await attempt("md5_bad", async () => d(await b.put("c", "hello", { md5: md5("other") })));
await attempt("md5_bad_len", async () => d(await b.put("c", "hello", { md5: "abcd" })));
await attempt("md5_not_hex", async () => d(await b.put("c", "hello", { md5: "z".repeat(32) })));
await attempt("sha256_ok", async () => d(await b.put("c", "hello", { sha256: sha256("hello") }), true).then(r => r.checksums));
await attempt("sha256_bad", async () => d(await b.put("c", "hello", { sha256: sha256("x") })));
await attempt("sha1_ok", async () => d(await b.put("c", "hello", { sha1: createHash("sha1").update("hello").digest("hex") }), true).then(r => Object.keys(r.checksums)));
await attempt("sha512_ok", async () => d(await b.put("c", "hello", { sha512: createHash("sha512").update("hello").digest("hex") }), true).then(r => Object.keys(r.checksums)));
await attempt("md5_and_sha256", async () => d(await b.put("c", "hello", { md5: md5("hello"), sha256: sha256("hello") }), true).then(r => r.checksums));
await attempt("checksums_get", async () => d(await b.head("c"), true).then(r => r.checksums));
await attempt("checksums_empty", async () => d(await b.head("empty"), true).then(r => r.checksums));

// 4. conditionals
const cur = await b.put("cond", "data");
const E = cur.etag, T = cur.uploaded.getTime(), past = new Date(T - 60000), future = new Date(T + 60000);
const g = async (onlyIf) => d(await b.get("cond", { onlyIf }));
await attempt("cond_info", () => ({ etag: E, uploaded: cur.uploaded.toISOString() }));
await attempt("get_etagMatches_ok", () => g({ etagMatches: E }));
await attempt("get_etagMatches_quoted", () => g({ etagMatches: `"${E}"` }));
await attempt("get_etagMatches_weak", () => g({ etagMatches: `W/"${E}"` }));
await attempt("get_etagMatches_star", () => g({ etagMatches: "*" }));
await attempt("get_etagMatches_bad", () => g({ etagMatches: "deadbeef" }));
await attempt("get_etagMatches_list", () => g({ etagMatches: `"x", "${E}"` }));
await attempt("get_etagMatches_array", () => g({ etagMatches: ["x", E] }));
await attempt("get_etagDNM_match", () => g({ etagDoesNotMatch: E }));
await attempt("get_etagDNM_quoted", () => g({ etagDoesNotMatch: `"${E}"` }));
await attempt("get_etagDNM_weak", () => g({ etagDoesNotMatch: `W/"${E}"` }));
await attempt("get_etagDNM_star", () => g({ etagDoesNotMatch: "*" }));
await attempt("get_etagDNM_other", () => g({ etagDoesNotMatch: "deadbeef" }));
await attempt("get_upBefore_future", () => g({ uploadedBefore: future }));
await attempt("get_upBefore_past", () => g({ uploadedBefore: past }));
await attempt("get_upAfter_past", () => g({ uploadedAfter: past }));
await attempt("get_upAfter_future", () => g({ uploadedAfter: future }));
await attempt("get_upAfter_exact", () => g({ uploadedAfter: new Date(T) }));
await attempt("get_upAfter_minus1ms", () => g({ uploadedAfter: new Date(T - 1) }));
await attempt("get_upBefore_exact", () => g({ uploadedBefore: new Date(T) }));
await attempt("get_upBefore_plus1ms", () => g({ uploadedBefore: new Date(T + 1) }));
await attempt("get_upAfter_truncsec", () => g({ uploadedAfter: new Date(Math.floor(T / 1000) * 1000) }));
await attempt("get_etagOK_upBefore_past", () => g({ etagMatches: E, uploadedBefore: past }));
await attempt("get_etagDNM_ok_upAfter_future", () => g({ etagDoesNotMatch: "x", uploadedAfter: future }));
await attempt("get_etagBad_upBefore_future", () => g({ etagMatches: "x", uploadedBefore: future }));
await attempt("get_cond_missing_key", async () => d(await b.get("nope", { onlyIf: { etagMatches: E } })));
await attempt("get_cond_bad_field", () => g({ bogus: 1 }));
await attempt("get_cond_date_string", () => g({ uploadedAfter: past.toISOString() }));
const H = (onlyIf) => W({ op: "get", key: "cond", onlyIf });
const http = (t) => new Date(t).toUTCString();
await attempt("hdr_ifmatch_ok", () => H({ "If-Match": `"${E}"` }));
await attempt("hdr_ifmatch_unquoted", () => H({ "If-Match": E }));
await attempt("hdr_ifmatch_star", () => H({ "If-Match": "*" }));
await attempt("hdr_ifmatch_bad", () => H({ "If-Match": '"x"' }));
await attempt("hdr_ifmatch_weak", () => H({ "If-Match": `W/"${E}"` }));
await attempt("hdr_ifmatch_list", () => H({ "If-Match": `"x", "${E}"` }));
await attempt("hdr_inm_match", () => H({ "If-None-Match": `"${E}"` }));
await attempt("hdr_inm_weak", () => H({ "If-None-Match": `W/"${E}"` }));
await attempt("hdr_inm_star", () => H({ "If-None-Match": "*" }));
await attempt("hdr_inm_other", () => H({ "If-None-Match": '"x"' }));
await attempt("hdr_ims_past", () => H({ "If-Modified-Since": http(T - 60000) }));
await attempt("hdr_ims_same_sec", () => H({ "If-Modified-Since": http(T) }));
await attempt("hdr_ims_prev_sec", () => H({ "If-Modified-Since": http(T - 1000) }));
await attempt("hdr_ims_future", () => H({ "If-Modified-Since": http(T + 60000) }));
await attempt("hdr_ius_same_sec", () => H({ "If-Unmodified-Since": http(T) }));
await attempt("hdr_ius_next_sec", () => H({ "If-Unmodified-Since": http(T + 1000) }));
await attempt("hdr_ius_past", () => H({ "If-Unmodified-Since": http(T - 60000) }));
await attempt("hdr_ims_garbage", () => H({ "If-Modified-Since": "garbage" }));
await attempt("hdr_IM_ok+IUS_fail", () => H({ "If-Match": `"${E}"`, "If-Unmodified-Since": http(T - 60000) }));
await attempt("hdr_IM_bad+IUS_ok", () => H({ "If-Match": '"x"', "If-Unmodified-Since": http(T + 60000) }));
await attempt("hdr_INM_ok+IMS_fail", () => H({ "If-None-Match": '"x"', "If-Modified-Since": http(T + 60000) }));
await attempt("hdr_INM_fail+IMS_ok", () => H({ "If-None-Match": `"${E}"`, "If-Modified-Since": http(T - 60000) }));
await attempt("obj_IM_ok+upBefore_fail", () => g({ etagMatches: E, uploadedBefore: past }));
await attempt("hdr_unrelated_only", () => H({ "X-Foo": "1" }));
const P = async (onlyIf, key = "cond") => d(await b.put(key, "new", { onlyIf }));
await attempt("put_etagMatches_bad", () => P({ etagMatches: "x" }));
await attempt("put_etagMatches_ok", async () => { const r = await P({ etagMatches: E }); await b.put("cond", "data"); return r; });
await attempt("put_etagDNM_star_exists", () => P({ etagDoesNotMatch: "*" }));
await attempt("put_etagDNM_star_missing", () => P({ etagDoesNotMatch: "*" }, "created"));
await attempt("put_etagMatches_missing", () => P({ etagMatches: "x" }, "nothere"));
await attempt("put_etagMatches_star_missing", () => P({ etagMatches: "*" }, "nothere"));
await attempt("put_upAfter_missing", () => P({ uploadedAfter: past }, "nothere"));
await attempt("put_upBefore_missing", () => P({ uploadedBefore: past }, "nothere2"));
await attempt("put_hdr_inm_star_exists", () => W({ op: "put", key: "cond", value: "new", onlyIf: { "If-None-Match": "*" } }));
await attempt("put_hdr_inm_star_missing", () => W({ op: "put", key: "created2", value: "new", onlyIf: { "If-None-Match": "*" } }));
await attempt("put_hdr_ifmatch_bad", () => W({ op: "put", key: "cond", value: "new", onlyIf: { "If-Match": '"x"' } }));
await attempt("put_upBefore_past", () => P({ uploadedBefore: new Date(Date.now() - 600000) }));
await attempt("put_failed_kept_old", async () => (await b.get("cond")).text());

// 5. ranges (object "0123456789")
await b.put("r", "0123456789");
const R = async (range) => d(await b.get("r", { range }));
await attempt("rng_off2_len3", () => R({ offset: 2, length: 3 }));
await attempt("rng_off7", () => R({ offset: 7 }));
await attempt("rng_len3", () => R({ length: 3 }));
await attempt("rng_suffix3", () => R({ suffix: 3 }));
await attempt("rng_suffix20", () => R({ suffix: 20 }));
await attempt("rng_suffix0", () => R({ suffix: 0 }));
await attempt("rng_off10", () => R({ offset: 10 }));
await attempt("rng_off11", () => R({ offset: 11 }));
await attempt("rng_off8_len5", () => R({ offset: 8, length: 5 }));
await attempt("rng_len0", () => R({ length: 0 }));
await attempt("rng_off_neg", () => R({ offset: -1 }));
await attempt("rng_off+suffix", () => R({ offset: 1, suffix: 2 }));
await attempt("rng_empty_obj", () => R({}));
await attempt("rng_on_empty_obj", async () => d(await b.get("empty", { range: { offset: 0 } })));
await attempt("rng_hdr_0-4", () => W({ op: "get", key: "r", range: { Range: "bytes=0-4" } }));
await attempt("rng_hdr_5-", () => W({ op: "get", key: "r", range: { Range: "bytes=5-" } }));
await attempt("rng_hdr_-3", () => W({ op: "get", key: "r", range: { Range: "bytes=-3" } }));
await attempt("rng_hdr_0-100", () => W({ op: "get", key: "r", range: { Range: "bytes=0-100" } }));
await attempt("rng_hdr_20-30", () => W({ op: "get", key: "r", range: { Range: "bytes=20-30" } }));
await attempt("rng_hdr_multi", () => W({ op: "get", key: "r", range: { Range: "bytes=0-1,4-5" } }));
await attempt("rng_hdr_-20", () => W({ op: "get", key: "r", range: { Range: "bytes=-20" } }));
await attempt("rng_hdr_10-", () => W({ op: "get", key: "r", range: { Range: "bytes=10-" } }));
await attempt("rng_hdr_5-2", () => W({ op: "get", key: "r", range: { Range: "bytes=5-2" } }));
await attempt("rng_hdr_garbage", () => W({ op: "get", key: "r", range: { Range: "items=0-1" } }));
await attempt("rng_head_field", async () => (await b.head("r")).range ?? "undefined");
await attempt("rng_get_nofield", async () => { const o = await b.get("r"); await o.text(); return o.range ?? "undefined"; });
await attempt("rng+cond_fail", async () => d(await b.get("r", { range: { offset: 1 }, onlyIf: { etagMatches: "x" } })));

// 6. delete
await attempt("del_missing", async () => (await b.delete("never")) ?? "undefined");
await attempt("del_array", async () => { await b.put("d1", "v"); await b.put("d2", "v"); const r = await b.delete(["d1", "d2", "never"]); return { ret: r ?? "undefined", left: (await b.list({ prefix: "d" })).objects.length }; });
await attempt("del_empty_array", async () => (await b.delete([])) ?? "undefined");
await attempt("del_1000", async () => (await b.delete(Array.from({ length: 1000 }, (_, i) => "x" + i))) ?? "undefined");
await attempt("del_1001", async () => (await b.delete(Array.from({ length: 1001 }, (_, i) => "x" + i))) ?? "undefined");

// 7. list
const L = async (opts) => names(await b.list(opts));
for (const k of ["l/b", "l/a", "l/A", "l/é", "l/z", "l/Z", "l/a/1", "l/a/2", "l/a/10", "l/ab", "l/b/x/y", "l/c", "l/~"]) await b.put(k, "v", { httpMetadata: { contentType: "t/x" }, customMetadata: { m: "1" } });
await attempt("list_order", () => L({ prefix: "l/" }));
await attempt("list_limit3", () => L({ prefix: "l/", limit: 3 }));
await attempt("list_cursor_fmt", async () => { const c = (await b.list({ prefix: "l/", limit: 3 })).cursor; return { c, decoded: Buffer.from(c, "base64").toString() }; });
await attempt("list_page2", async () => { const c = (await b.list({ prefix: "l/", limit: 3 })).cursor; return L({ prefix: "l/", limit: 3, cursor: c }); });
await attempt("list_exact_last_page", () => L({ prefix: "l/a/", limit: 3 }));
await attempt("list_limit0", () => L({ prefix: "l/", limit: 0 }));
await attempt("list_limit1001", () => L({ prefix: "l/", limit: 1001 }));
await attempt("list_limit_1.5", () => L({ prefix: "l/", limit: 1.5 }));
await attempt("list_delim", () => L({ prefix: "l/", delimiter: "/" }));
await attempt("list_delim_limit3", () => L({ prefix: "l/", delimiter: "/", limit: 3 }));
await attempt("list_delim_page2", async () => { const c = (await b.list({ prefix: "l/", delimiter: "/", limit: 3 })).cursor; return L({ prefix: "l/", delimiter: "/", limit: 3, cursor: c }); });
await attempt("list_delim_noprefix", () => L({ delimiter: "/", limit: 50 }));
await attempt("list_delim_multichar", () => L({ prefix: "l/", delimiter: "a/" }));
await attempt("list_startAfter", () => L({ prefix: "l/", startAfter: "l/a/2" }));
await attempt("list_startAfter_nonexist", () => L({ prefix: "l/", startAfter: "l/aa" }));
await attempt("list_startAfter_outside", () => L({ prefix: "l/", startAfter: "a" }).then(r => r.objs.length));
await attempt("list_cursor+startAfter", async () => { const c = (await b.list({ prefix: "l/", limit: 3 })).cursor; return L({ prefix: "l/", limit: 3, cursor: c, startAfter: "l/b" }); });
await attempt("list_bad_cursor", () => L({ prefix: "l/", cursor: "%%%" }));
await attempt("list_no_include_meta", async () => { const o = (await b.list({ prefix: "l/a/1" })).objects[0]; return { http: o.httpMetadata, custom: o.customMetadata, etag: o.etag, httpEtag: o.httpEtag, cs: o.checksums.toJSON(), v: !!o.version, up: !!o.uploaded }; });
await attempt("list_include_both", async () => { const o = (await b.list({ prefix: "l/a/1", include: ["httpMetadata", "customMetadata"] })).objects[0]; return { http: o.httpMetadata, custom: o.customMetadata }; });
await attempt("list_include_http", async () => { const o = (await b.list({ prefix: "l/a/1", include: ["httpMetadata"] })).objects[0]; return { http: o.httpMetadata, custom: o.customMetadata }; });
await attempt("list_include_bad", () => L({ prefix: "l/a/1", include: ["bogus"] }));
await attempt("list_delim_include", async () => { const o = (await b.list({ prefix: "l/", delimiter: "/", include: ["customMetadata"] })).objects[0]; return { key: o.key, custom: o.customMetadata }; });
for (let i = 0; i < 1005; i += 201) await Promise.all(Array.from({ length: Math.min(201, 1005 - i) }, (_, j) => b.put("big/" + String(i + j).padStart(4, "0"), "")));
await attempt("list_limit_neg", async () => { const l = await b.list({ prefix: "big/", limit: -1 }); return { n: l.objects.length, truncated: l.truncated }; });
await attempt("list_limit_1000", async () => { const l = await b.list({ prefix: "big/", limit: 1000 }); return { n: l.objects.length, truncated: l.truncated }; });
await attempt("list_default_limit", async () => { const l = await b.list({ prefix: "big/" }); return { n: l.objects.length, truncated: l.truncated }; });
await attempt("list_include_caps_100", async () => { const l = await b.list({ prefix: "big/", include: ["customMetadata"] }); return { n: l.objects.length, truncated: l.truncated }; });
await attempt("list_include_limit500", async () => { const l = await b.list({ prefix: "big/", limit: 500, include: ["httpMetadata"] }); return { n: l.objects.length, truncated: l.truncated }; });

// 8. multipart (min part size 5 MiB outside Miniflare's own tests)
const MiB = 1024 * 1024, P5 = new Uint8Array(5 * MiB).fill(97), P5b = new Uint8Array(5 * MiB).fill(120), P6 = new Uint8Array(6 * MiB).fill(98), small = new Uint8Array(10).fill(99);
await attempt("mp_create", async () => { const u = await b.createMultipartUpload("mp", { httpMetadata: { contentType: "a/b" }, customMetadata: { c: "d" } }); return { key: u.key, uploadId: u.uploadId.slice(0, 12) + "…", idLen: u.uploadId.length }; });
await attempt("mp_create_key_1025", async () => (await b.createMultipartUpload("k".repeat(1025))).key);
const mp = async (key = "mp") => b.createMultipartUpload(key, { httpMetadata: { contentType: "a/b" }, customMetadata: { c: "d" } });
await attempt("mp_part0", async () => { const u = await mp(); return u.uploadPart(0, small); });
await attempt("mp_part10000", async () => { const u = await mp(); const p = await u.uploadPart(10000, small); return { ...p, etag: p.etag.slice(0, 8) + "…(" + p.etag.length + ")" }; });
await attempt("mp_part10001", async () => { const u = await mp(); return u.uploadPart(10001, small); });
await attempt("mp_part_empty", async () => { const u = await mp(); const p = await u.uploadPart(1, new Uint8Array(0)); const o = await u.complete([p]); return d(o); });
await attempt("mp_ok_3parts", async () => {
  const u = await mp(); const p1 = await u.uploadPart(1, P5), p2 = await u.uploadPart(2, P5), p3 = await u.uploadPart(3, small);
  const o = await u.complete([p1, p2, p3]);
  const want = createHash("md5").update(Buffer.concat([P5, P5, small].map(x => createHash("md5").update(x).digest()))).digest("hex") + "-3";
  const r = await d(o, true); return { ...r, etagIsMd5OfPartMd5s: o.etag === want, version: undefined };
});
await attempt("mp_get_after", async () => d(await b.get("mp"), true).then(r => ({ size: r.size, httpMetadata: r.httpMetadata, customMetadata: r.customMetadata, checksums: r.checksums, httpEtag: r.httpEtag })));
await attempt("mp_range_across", async () => d(await b.get("mp", { range: { offset: 5 * MiB - 2, length: 4 } })));
await attempt("mp_range_suffix", async () => d(await b.get("mp", { range: { suffix: 12 } })));
await attempt("mp_out_of_order", async () => { const u = await mp(); const p1 = await u.uploadPart(1, P5), p2 = await u.uploadPart(2, small); return d(await u.complete([p2, p1])); });
await attempt("mp_out_of_order_equal", async () => { const u = await mp(); const p1 = await u.uploadPart(1, P5), p2 = await u.uploadPart(2, P5b); const o = await u.complete([p2, p1]); return { obj: await d(o), boundary: await d(await b.get("mp", { range: { offset: 5 * MiB - 2, length: 4 } })) }; });
await attempt("mp_small_nonlast", async () => { const u = await mp(); const p1 = await u.uploadPart(1, small), p2 = await u.uploadPart(2, small); return d(await u.complete([p1, p2])); });
await attempt("mp_unequal_parts", async () => { const u = await mp(); const p1 = await u.uploadPart(1, P5), p2 = await u.uploadPart(2, P6), p3 = await u.uploadPart(3, small); return d(await u.complete([p1, p2, p3])); });
await attempt("mp_last_bigger", async () => { const u = await mp(); const p1 = await u.uploadPart(1, P5), p2 = await u.uploadPart(2, P6); return d(await u.complete([p1, p2])); });
await attempt("mp_gap_1_3", async () => { const u = await mp(); const p1 = await u.uploadPart(1, P5), p3 = await u.uploadPart(3, small); return d(await u.complete([p1, p3])); });
await attempt("mp_missing_part", async () => { const u = await mp(); const p1 = await u.uploadPart(1, P5); return d(await u.complete([p1, { partNumber: 2, etag: "x" }])); });
await attempt("mp_wrong_etag", async () => { const u = await mp(); const p1 = await u.uploadPart(1, small); return d(await u.complete([{ partNumber: 1, etag: "x" }])); });
await attempt("mp_dup_part", async () => { const u = await mp(); const p1 = await u.uploadPart(1, small); return d(await u.complete([p1, p1])); });
await attempt("mp_complete_empty", async () => { const u = await mp(); return d(await u.complete([])); });
await attempt("mp_subset_of_parts", async () => { const u = await mp(); const p1 = await u.uploadPart(1, small); await u.uploadPart(2, small); return d(await u.complete([p1])); });
await attempt("mp_reupload_part", async () => { const u = await mp(); const a = await u.uploadPart(1, small); const c = await u.uploadPart(1, new Uint8Array([1])); const r = { sameEtag: a.etag === c.etag }; try { await u.complete([a]); r.oldEtag = "ok"; } catch (e) { r.oldEtag = "ERROR: " + e.message; } r.newEtag = await d(await u.complete([c])); return r; });
await attempt("mp_resume", async () => { const u = await mp(); const r = b.resumeMultipartUpload("mp", u.uploadId); const p1 = await r.uploadPart(1, small); return { sync: !(r instanceof Promise), key: r.key, sameId: r.uploadId === u.uploadId, obj: await d(await u.complete([p1])) }; });
await attempt("mp_resume_bogus", async () => { const r = b.resumeMultipartUpload("mp", "bogus"); return r.uploadPart(1, small); });
await attempt("mp_resume_bogus_abort", async () => (await b.resumeMultipartUpload("mp", "bogus").abort()) ?? "undefined");
await attempt("mp_resume_bogus_complete", async () => d(await b.resumeMultipartUpload("mp", "bogus").complete([])));
await attempt("mp_resume_wrong_key", async () => { const u = await mp(); return b.resumeMultipartUpload("other", u.uploadId).uploadPart(1, small); });
await attempt("mp_abort_ret", async () => { const u = await mp(); await u.uploadPart(1, small); return (await u.abort()) ?? "undefined"; });
await attempt("mp_abort_twice", async () => { const u = await mp(); await u.abort(); return (await u.abort()) ?? "undefined"; });
await attempt("mp_abort_then_complete", async () => { const u = await mp(); const p = await u.uploadPart(1, small); await u.abort(); return d(await u.complete([p])); });
await attempt("mp_abort_then_part", async () => { const u = await mp(); await u.abort(); return u.uploadPart(1, small); });
await attempt("mp_complete_twice", async () => { const u = await mp(); const p = await u.uploadPart(1, small); await u.complete([p]); return d(await u.complete([p])); });
await attempt("mp_part_after_complete", async () => { const u = await mp(); const p = await u.uploadPart(1, small); await u.complete([p]); return u.uploadPart(2, small); });
await attempt("mp_abort_after_complete", async () => { const u = await mp(); const p = await u.uploadPart(1, small); await u.complete([p]); return (await u.abort()) ?? "undefined"; });
await attempt("mp_not_visible_before", async () => { const u = await mp("mpnew"); await u.uploadPart(1, small); const h = await b.head("mpnew"); await u.abort(); return h; });
await attempt("mp_string_part", async () => { const u = await mp(); const p = await u.uploadPart(1, "abc"); return d(await u.complete([p])); });

// 9. httpMetadata
const cacheExpiry = new Date(Date.UTC(2030, 0, 1));
const hm = { contentType: "text/html", contentLanguage: "en", contentDisposition: "inline", contentEncoding: "identity", cacheControl: "no-cache", cacheExpiry };
await attempt("hm_all_fields", async () => { await b.put("hm", "v", { httpMetadata: hm }); return (await b.head("hm")).httpMetadata; });
await attempt("hm_unknown_field", async () => (await b.put("hm2", "v", { httpMetadata: { contentType: "a/b", bogus: "x" } })).httpMetadata);
await attempt("hm_from_headers", () => W({ op: "put", key: "hm3", value: "v", httpMetadata: { "Content-Type": "a/b", "Cache-Control": "max-age=1", Expires: cacheExpiry.toUTCString(), "Content-Disposition": "attachment", "Content-Language": "de", "Content-Encoding": "gzip", "X-Other": "1" } }));
await attempt("hm_writeHttpMetadata", () => W({ op: "write", key: "hm" }));
await attempt("hm_write_none", () => W({ op: "write", key: "a" }));

// 10. size limits: too big to upload here, so read Miniflare's own constants
await attempt("limits_in_source", async () => { const src = readFileSync(new URL("./workers/r2/bucket.worker.js", import.meta.resolve("miniflare")), "utf8");
  return Object.fromEntries([...src.matchAll(/^\s+(MAX_\w+|MIN_MULTIPART_PART_SIZE): (\d+e?\d*)/gm)].map(m => [m[1], Number(m[2])])); });

for (const [k, v] of Object.entries(out)) console.log(k.padEnd(30), JSON.stringify(v === undefined ? "ok(undefined)" : v).slice(0, 420));
await mf.dispose();
