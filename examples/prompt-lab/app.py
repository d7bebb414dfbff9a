"""prompt-lab: an edgeplane worker shaped like a prompt-optimisation platform.

Routes:
  GET  /api/prompts/templates        template catalogue (cacheable)
  GET  /api/prompts/templates/{id}   one template (cacheable)
  POST /api/evaluate                 score a prompt (dynamic; logged to D1 after the response)
  GET  /api/evaluations/recent       the latest scored prompts, from D1
  POST /api/exports                  snapshot recent evaluations to an R2 object; returns a presigned URL
  GET  /api/exports/{name}           stream an export back from R2 (Range and If-None-Match honoured)
  GET  /api/llm/providers/meta       providers and models the platform can route to
  GET  /api/user/preferences         per-user settings (keyed by the X-User-Id header), from Workers KV
  PUT  /api/user/preferences         replace them
  GET  /admin/stats                  operator view (protected by a later issue's access policy)
  GET  /health                       liveness for the platform's health check
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from edgeplane.worker import ctx_of, env_of, info_of

app = FastAPI(title="prompt-lab")

TEMPLATES = {
    "summarize": {
        "id": "summarize",
        "name": "Summarize",
        "template": "Summarize the following text in {sentences} sentences:\n\n{text}",
        "variables": ["sentences", "text"],
        "category": "writing",
    },
    "classify": {
        "id": "classify",
        "name": "Classify sentiment",
        "template": "Classify the sentiment of this review as positive, negative or neutral:\n\n{review}",
        "variables": ["review"],
        "category": "analysis",
    },
    "extract-json": {
        "id": "extract-json",
        "name": "Extract JSON",
        "template": "Extract {fields} from the text below and answer with JSON only.\n\n{text}",
        "variables": ["fields", "text"],
        "category": "extraction",
    },
}

PROVIDERS = [
    {"id": "openai", "models": ["gpt-4o", "gpt-4o-mini"], "supports": ["chat", "json_mode", "tools"]},
    {"id": "anthropic", "models": ["claude-sonnet", "claude-haiku"], "supports": ["chat", "tools"]},
    {"id": "local", "models": ["llama-3-8b"], "supports": ["chat"]},
]

# Per-process counters: each worker process of a version keeps its own (state lives in bindings later).
STATS = {"evaluations": 0, "started_at": time.time()}
DEFAULT_PREFERENCES = {"theme": "light", "default_template": "summarize"}


class EvaluateIn(BaseModel):
    prompt: str = Field(min_length=1, max_length=20_000)
    expected: str | None = None


def score_prompt(prompt: str, expected: str | None) -> dict[str, object]:
    """A transparent heuristic score in [0, 1]: clarity, structure and specificity of the prompt."""
    words = re.findall(r"\w+", prompt)
    checks = {
        "has_instruction": bool(re.search(r"\b(summarize|classify|extract|write|explain|list|answer)\b", prompt, re.I)),
        "has_format": bool(re.search(r"\b(json|bullet|table|sentences?|words?)\b", prompt, re.I)),
        "has_context": len(words) >= 12,
        "not_too_long": len(words) <= 800,
        "has_example": "example" in prompt.lower() or "e.g." in prompt.lower(),
    }
    score = sum(checks.values()) / len(checks)
    if expected:
        overlap = len(set(w.lower() for w in words) & set(re.findall(r"\w+", expected.lower())))
        checks["mentions_expected_terms"] = overlap > 0
    return {"score": round(score, 3), "checks": checks, "tokens_estimate": max(1, len(prompt) // 4)}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/prompts/templates")
async def list_templates(response: Response, category: str | None = None) -> dict[str, object]:
    response.headers["cache-control"] = "public, max-age=60"
    items = [t for t in TEMPLATES.values() if category is None or t["category"] == category]
    return {"templates": items, "count": len(items)}


@app.get("/api/prompts/templates/{template_id}")
async def get_template(template_id: str, response: Response) -> dict[str, object]:
    template = TEMPLATES.get(template_id)
    if template is None:
        raise HTTPException(status_code=404, detail=f"no template {template_id!r}")
    response.headers["cache-control"] = "public, max-age=300"
    return template


async def _record_evaluation(db: Any, prompt: str, score: float, model: str, version: str) -> None:
    STATS["evaluations"] = int(STATS["evaluations"]) + 1
    insert = "INSERT INTO evaluations (prompt, score, model, version) VALUES (?, ?, ?, ?)"
    await db.prepare(insert).bind(prompt[:2000], score, model, version).run()


@app.post("/api/evaluate")
async def evaluate(body: EvaluateIn, request: Request) -> dict[str, object]:
    env = env_of(request)
    result = score_prompt(body.prompt, body.expected)
    version = info_of(request).version_id
    score = float(result["score"])  # type: ignore[arg-type]
    ctx_of(request).wait_until(_record_evaluation(env.DB, body.prompt, score, env.SCORING_MODEL, version))
    # one Analytics Engine data point per evaluation: returns at once, flushed in the background
    env.EVENTS.write_data_point(
        blobs=[env.SCORING_MODEL, version, request.headers.get("x-user-id", "anonymous")],
        doubles=[score, len(body.prompt)],
        indexes=[env.SCORING_MODEL],
    )
    return {**result, "model": env.SCORING_MODEL, "version": version}


@app.post("/api/exports")
async def create_export(request: Request) -> dict[str, object]:
    """Write the latest evaluations to R2 as JSON lines; hand back a link that works without this worker."""
    env = env_of(request)
    rows = await env.DB.prepare("SELECT id, prompt, score, model, created_at FROM evaluations ORDER BY id").all()
    name = f"evaluations-{int(time.time() * 1000)}.jsonl"
    body = "".join(json.dumps(row) + "\n" for row in rows.results)
    stored = await env.EXPORTS.put(
        f"exports/{name}", body, http_metadata={"content_type": "application/x-ndjson"},
        custom_metadata={"rows": str(len(rows.results))},
    )  # fmt: skip
    url = env.EXPORTS.presign(f"exports/{name}", expires_in=600)
    return {"name": name, "rows": len(rows.results), "etag": stored.etag, "size": stored.size, "download": url}


@app.get("/api/exports/{name}")
async def get_export(name: str, request: Request) -> Response:
    obj = await env_of(request).EXPORTS.get(
        f"exports/{name}", range=request.headers.get("range"), only_if=dict(request.headers)
    )  # fmt: skip
    if obj is None:
        raise HTTPException(status_code=404, detail=f"no export {name!r}")
    headers: dict[str, str] = {"etag": obj.http_etag}
    obj.write_http_metadata(headers)
    if not hasattr(obj, "body"):  # If-None-Match matched: the client's copy is current
        return Response(status_code=304, headers=headers)
    status = 206 if obj.range and obj.range["length"] != obj.size else 200
    return StreamingResponse(obj.body, status_code=status, headers=headers)


@app.get("/api/evaluations/recent")
async def recent_evaluations(request: Request, limit: int = 10) -> dict[str, object]:
    query = "SELECT id, prompt, score, model, created_at FROM evaluations ORDER BY id DESC LIMIT ?"
    rows = await env_of(request).DB.prepare(query).bind(max(1, min(limit, 100))).all()
    return {"evaluations": rows.results}


@app.get("/api/llm/providers/meta")
async def providers_meta(request: Request) -> dict[str, object]:
    return {"providers": PROVIDERS, "default": env_of(request).DEFAULT_PROVIDER}


def _user(request: Request) -> str:
    user = request.headers.get("x-user-id")
    if not user:
        raise HTTPException(status_code=401, detail="send X-User-Id")
    return user


class PreferencesIn(BaseModel):
    theme: str = Field(default="light", pattern="^(light|dark)$")
    default_template: str = "summarize"


@app.get("/api/user/preferences")
async def user_preferences(request: Request, response: Response) -> dict[str, object]:
    user = _user(request)
    stored = await env_of(request).PREFERENCES.get(f"user:{user}", type="json")
    response.headers["cache-control"] = "private, no-store"
    return {"user": user, "preferences": stored or DEFAULT_PREFERENCES}


@app.put("/api/user/preferences")
async def put_user_preferences(body: PreferencesIn, request: Request) -> dict[str, object]:
    user = _user(request)
    if body.default_template not in TEMPLATES:
        raise HTTPException(status_code=422, detail=f"unknown template {body.default_template!r}")
    await env_of(request).PREFERENCES.put(f"user:{user}", body.model_dump_json(), metadata={"updated": time.time()})
    return {"user": user, "preferences": body.model_dump()}


@app.get("/admin/stats")
async def admin_stats(request: Request) -> dict[str, object]:
    info = info_of(request)
    return {**STATS, "version": info.version_id, "env": info.environment, "colo": info.colo}


@app.get("/")
async def index(request: Request) -> dict[str, object]:
    return {"app": env_of(request).APP_TITLE, "version": info_of(request).version_id, "docs": "/docs"}
