"""An independent MCP client (the `mcp` package from PyPI) against OmniFy's tools.

    mcp_client.py http URL KEY       # streamable HTTP, the key as a bearer token
    mcp_client.py stdio BIN ARG...   # starts `BIN ARG...` (e.g. omnify mcp --tenant T)

Lists the tools and calls each one. The client itself checks every structured result against
the tool's output schema (with `jsonschema`) and raises on a mismatch. Prints one JSON object:
the tool names, and per call whether it was an error, its structured content and its text.
Exits non-zero on any protocol or schema failure.
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def exercise(session):
    await session.initialize()
    tools = (await session.list_tools()).tools
    out = {"tools": sorted(t.name for t in tools), "calls": {}}
    for t in tools:
        assert t.description and len(t.description) > 80, t.name
        assert t.input_schema.get("type") == "object", t.name
        assert t.output_schema and t.output_schema.get("type") == "object", t.name

    async def call(name, args, label=None):
        r = await session.call_tool(name, args)
        out["calls"][label or name] = {
            "is_error": bool(r.is_error),
            "structured": r.structured_content,
            "text": text_of(r),
        }
        return r

    await call("model_health", {})
    risk = await call("list_at_risk_creatives", {"limit": 3})
    creatives = (risk.structured_content or {}).get("creatives") or []
    ad = creatives[0]["ad_id"] if creatives else "none"
    await call("score_creatives", {"ad_ids": [ad]})
    plan = await call("recommend_budget_shifts", {"budget": 1000})
    entities = (plan.structured_content or {}).get("entities") or []
    await call("forecast_plan", {"entities": entities, "periods": 2})
    await call("summarize_report", {})
    job = await call("start_retraining", {"kind": "budget", "config": {"fit": {"draws": 4}}})
    job_id = (job.structured_content or {}).get("id", "none")
    await call("job_status", {"id": job_id})
    await call("recommend_budget_shifts", {"budget": -5}, "bad_budget")
    return out


async def main(argv):
    mode = argv[1]
    if mode == "http":
        url, key = argv[2], argv[3]
        client = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
        async with client:
            async with streamable_http_client(url, http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    return await exercise(session)
    if mode == "stdio":
        params = StdioServerParameters(command=argv[2], args=argv[3:])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                return await exercise(session)
    raise SystemExit(f"unknown mode {mode!r}: use http or stdio")


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv))))
