//! OmniFy's tools for AI agents over the Model Context Protocol: the same answers as the API,
//! for the same keys, roles and tenants, with a short plain-language text built from the
//! numbers beside each structured result (no language model inside OmniFy).
//!
//! Served over streamable HTTP at `/mcp` by `omnify serve` (a bearer key per request, like
//! every route; stateless, so any replica can answer) and over stdio by `omnify mcp --tenant
//! T` for a local agent. Each tool's input and output schema is the API's own (from the
//! OpenAPI document), and each runs the library code of the route it mirrors.

pub mod schema;
mod text;
mod tools;

use std::sync::{Arc, OnceLock};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

use crate::api::AppState;
use crate::api::error::ApiError;
use crate::api::extract::Caller;
use crate::state::Role;

pub use tools::{AtRiskCreative, AtRiskRequest, AtRiskResponse, ModelHealth, ReportSummary};

/// What the server tells an agent when it connects.
const INSTRUCTIONS: &str = "OmniFy forecasts creative fatigue (which ads will wear out in the \
next 7-14 days) and recommends budget shifts between campaigns from fitted response curves. \
Call model_health first: it says which models serve this account, how they were validated, \
how old they are and how fresh the data is. Then list_at_risk_creatives for what needs a \
refresh, score_creatives for specific ads, recommend_budget_shifts and forecast_plan for \
budgets (dry runs: nothing changes), summarize_report for an overview. Probabilities are the \
model's calibrated estimates, not certainties. start_retraining and job_status need a write key.";

/// A tool's structured result and its text, or the API's error.
pub(crate) type ToolOutcome = Result<(Value, String), ApiError>;

/// One tool: its description, schemas (component names of the API document), the role it
/// needs and what it runs.
pub(crate) struct ToolDef {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub input: &'static str,
    pub output: &'static str,
    pub role: Role,
    /// Whether it reads models (answered 503 while the server loads them).
    pub needs_models: bool,
    /// Runs on a blocking thread; returns the structured result and its text.
    pub run: fn(&Arc<AppState>, &Caller, Value) -> ToolOutcome,
}

/// The MCP server of one process: the API's state, and for stdio the fixed caller.
#[derive(Clone)]
pub struct OmnifyMcp {
    st: Arc<AppState>,
    /// The caller of every request (stdio); `None`: each HTTP request's key decides.
    fixed: Option<Caller>,
}

impl OmnifyMcp {
    /// The server for HTTP requests, each authenticated by the `/mcp` route's key check.
    pub fn for_http(st: Arc<AppState>) -> OmnifyMcp {
        OmnifyMcp { st, fixed: None }
    }

    /// The server for one local tenant (stdio), acting with `role`.
    pub fn for_tenant(st: Arc<AppState>, tenant: &str, role: Role) -> OmnifyMcp {
        OmnifyMcp {
            st,
            fixed: Some(Caller {
                key_id: "local".into(),
                tenant: tenant.to_string(),
                role,
            }),
        }
    }

    /// The tool list with full schemas.
    pub fn tools(&self) -> Vec<Tool> {
        static TOOLS: OnceLock<Vec<Tool>> = OnceLock::new();
        TOOLS
            .get_or_init(|| {
                let (_, doc) = crate::api::router_and_doc(self.st.clone());
                let comps = schema::Components::new(&doc, tools::extra_schemas());
                tools::all()
                    .iter()
                    .map(|t| {
                        let input = comps.standalone(t.input).unwrap_or_default();
                        let output = comps.standalone(t.output).unwrap_or_default();
                        Tool::new(t.name, t.description, input)
                            .with_title(t.title)
                            .with_raw_output_schema(Arc::new(output))
                            .with_annotations(
                                ToolAnnotations::new()
                                    .read_only(t.role == Role::Read)
                                    .destructive(false),
                            )
                    })
                    .collect()
            })
            .clone()
    }

    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Option<Caller> {
        if let Some(c) = &self.fixed {
            return Some(c.clone());
        }
        ctx.extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>())
            .cloned()
    }

    /// Runs tool `name` for `caller`: its structured result and text, or the API's error as
    /// a tool error.
    pub async fn call(&self, caller: Caller, name: &str, args: Value) -> CallToolResult {
        let Some(def) = tools::all().iter().find(|t| t.name == name) else {
            return error_result(&ApiError::not_found(format!(
                "no tool `{name}`; list the tools to see what there is"
            )));
        };
        if let Err(e) = caller.require(def.role) {
            return error_result(&e);
        }
        if def.needs_models && !self.st.is_ready() {
            return error_result(&ApiError::unavailable("models are loading", 5));
        }
        let st = self.st.clone();
        let run = def.run;
        let out = tokio::task::spawn_blocking(move || run(&st, &caller, args))
            .await
            .map_err(|e| ApiError::internal(format!("tool task failed: {e}")))
            .and_then(|r| r);
        match out {
            Ok((value, text)) => {
                let mut r = CallToolResult::structured(value);
                r.content = vec![ContentBlock::text(text)];
                r
            }
            Err(e) => error_result(&e),
        }
    }
}

/// A tool error carrying the API's answer: its status, title, detail and field errors.
fn error_result(e: &ApiError) -> CallToolResult {
    let mut text = format!("{} ({}): {}", e.title, e.status.as_u16(), e.detail);
    if let Some(s) = e.retry_after {
        text.push_str(&format!(" Retry after {s} s."));
    }
    CallToolResult::error(vec![ContentBlock::text(text)])
}

impl ServerHandler for OmnifyMcp {
    fn get_info(&self) -> ServerConfig {
        let mut c = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_instructions(INSTRUCTIONS);
        c.server_info =
            Implementation::new("omnify", env!("CARGO_PKG_VERSION")).with_title("OmniFy");
        c
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(caller) = self.caller(&context) else {
            // The route authenticates before any MCP message is read; without a caller
            // something is misconfigured.
            return Err(ErrorData::internal_error("no authenticated caller", None));
        };
        let args = Value::Object(request.arguments.unwrap_or_default());
        Ok(self.call(caller, &request.name, args).await.into())
    }
}

/// The `/mcp` route: streamable HTTP, stateless (no session to keep: any replica answers),
/// JSON answers; requests are authenticated like every route before they reach the server.
pub fn http_service(
    st: Arc<AppState>,
) -> rmcp::transport::streamable_http_server::StreamableHttpService<
    OmnifyMcp,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let hosts = st.cfg.api.mcp_allowed_hosts.clone();
    let mut cfg = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(st.cfg.api.body_limit_bytes);
    cfg = if hosts.is_empty() {
        cfg.disable_allowed_hosts()
    } else {
        cfg.with_allowed_hosts(hosts)
    };
    let server = OmnifyMcp::for_http(st);
    StreamableHttpService::new(move || Ok(server.clone()), Default::default(), cfg)
}

/// Serves `tenant`'s tools over stdin/stdout until the client closes them.
pub async fn serve_stdio(st: Arc<AppState>, tenant: &str, role: Role) -> Result<(), String> {
    use rmcp::ServiceExt;
    let running = OmnifyMcp::for_tenant(st, tenant, role)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("MCP over stdio: {e}"))?;
    running
        .waiting()
        .await
        .map(|_| ())
        .map_err(|e| format!("MCP over stdio: {e}"))
}

#[cfg(test)]
mod tests;
