import { Miniflare } from "miniflare";
const mf = new Miniflare({ modules: true, script: "export default { fetch() { return new Response('') } }", d1Databases: ["DB"] });
const db = await mf.getD1Database("DB");
const out = {};
async function attempt(name, fn) { try { out[name] = await fn(); } catch (e) { out[name] = "ERROR: " + String(e.message).slice(0, 160); } }
await db.exec("CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT UNIQUE, score REAL, b BLOB, flag INTEGER);");
await attempt("insert_meta", async () => (await db.prepare("INSERT INTO u (name, score, b, flag) VALUES (?, ?, ?, ?)").bind("ana", 9.5, new Uint8Array([1,2]), true).run()).meta);
await attempt("types", async () => (await db.prepare("SELECT name, score, b, flag FROM u").all()).results);
await attempt("first_missing_col", () => db.prepare("SELECT id FROM u").first("nope"));
await attempt("first_none", () => db.prepare("SELECT id FROM u WHERE id = 99").first());
await attempt("raw_names", () => db.prepare("SELECT id, name FROM u").raw({columnNames: true}));
await attempt("batch_rollback", async () => { try { await db.batch([db.prepare("INSERT INTO u (name) VALUES ('x')"), db.prepare("INSERT INTO u (name) VALUES ('ana')")]); } catch (e) { } return (await db.prepare("SELECT count(*) AS n FROM u").first("n")); });
await attempt("exec_result", () => db.exec("INSERT INTO u (name) VALUES ('p'); INSERT INTO u (name) VALUES ('q');"));
await attempt("exec_fail_partial", async () => { try { await db.exec("INSERT INTO u (name) VALUES ('r'); INSERT INTO nope VALUES (1);"); } catch (e) { } return (await db.prepare("SELECT count(*) AS n FROM u").first("n")); });
await attempt("bind_object", () => db.prepare("SELECT ?").bind({a: 1}).all());
await attempt("select_meta", async () => (await db.prepare("SELECT * FROM u").all()).meta);
await attempt("run_results", async () => (await db.prepare("SELECT name FROM u ORDER BY id LIMIT 1").run()).results);
for (const [k, v] of Object.entries(out)) console.log(k.padEnd(18), JSON.stringify(v === undefined ? "ok(undefined)" : v).slice(0, 260));
await mf.dispose();
