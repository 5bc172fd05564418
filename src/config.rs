//! Typed configuration: defaults → file → environment → command-line flags, in that order of
//! precedence (later wins). The file is `--config FILE`, else `$OMNIFY_CONFIG`, else
//! `./omnify.toml` when present. Environment variables: `OMNIFY_DATA_DIR`,
//! `OMNIFY_WAREHOUSE_DIR`, `OMNIFY_MODELS_DIR`, `OMNIFY_STATE`, `OMNIFY_TENANT`, `OMNIFY_ADDR` (the `[api]` listen address).

use std::path::{Path, PathBuf};

use crate::platforms::ConversionEvents;

/// Everything configurable, with documented defaults.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Folder holding the bundled sample and, by default, the warehouse and state. Default `data`.
    pub data_dir: PathBuf,
    /// The Parquet warehouse. Default `<data_dir>/warehouse`.
    pub warehouse_dir: Option<PathBuf>,
    /// The model registry. Default `models`.
    pub models_dir: PathBuf,
    /// The SQLite state file (jobs, keys). Default `<data_dir>/state.sqlite`.
    pub state: Option<PathBuf>,
    /// Tenant used when a command is not given `--tenant`. Default `default`.
    pub tenant: String,
    /// Meta `action_type`s counted as conversions: a list of events, each a list of aliases of
    /// the same event in order of preference (never added up). Default: purchases
    /// (`omni_purchase`, else `purchase`, else `offsite_conversion.fb_pixel_purchase`).
    pub conversion_events: ConversionEvents,
    /// The HTTP service (`omnify serve`).
    pub api: ApiConfig,
    /// Retraining schedule: each entry enqueues jobs for its tenants when due.
    pub schedule: Vec<ScheduleEntry>,
    /// Bounds on what a file, a request or a job may ask of the service.
    pub limits: Limits,
    /// Alert destinations (`[[alerts]]`), registered by `omnify serve` at start.
    pub alerts: Vec<AlertEntry>,
}

/// `[[alerts]]`: a destination told about a tenant's forecasts (see `POST /v1/alerts` for the
/// same through the API).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertEntry {
    /// A name unique in the file (the destination's id is `cfg_<name>`).
    pub name: String,
    pub tenant: String,
    /// Where deliveries are POSTed (http or https).
    pub url: String,
    /// `webhook` (the event JSON) or `slack` (`{"text": ...}`). Default webhook.
    #[serde(default)]
    pub format: crate::alerts::Format,
    /// The signing secret, or `secret_env`: the variable holding it. Without either, the
    /// signature uses an empty secret (fine for Slack, not for a receiver that checks it).
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub secret_env: Option<String>,
    /// What to alert on [default: creatives entering prepare_refresh, refresh_now or fatigued;
    /// budget gains of 5%; failed jobs; retrained models worse than the champion].
    #[serde(default)]
    pub rules: crate::alerts::Rules,
}

impl AlertEntry {
    fn validate(&self) -> Result<(), String> {
        let at = format!("alerts `{}`", self.name);
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!("{at}: name: use letters, digits, '_' or '-'"));
        }
        if !crate::warehouse::valid_tenant(&self.tenant) {
            return Err(format!(
                "{at}: tenant: use 1-64 letters, digits, '_' or '-'"
            ));
        }
        crate::alerts::check_url(&self.url).map_err(|m| format!("{at}: url: {m}"))?;
        // A literal private address in the operator's own file is the operator's choice; it is
        // still refused at delivery unless [api] alert_private_targets allows it.
        self.rules
            .check()
            .map_err(|(f, m)| format!("{at}: {f}: {m}"))
    }
}

/// `[limits]`: bounds on everything a caller controls, checked before any work is done. A
/// request past one is answered 422 (or 413 for sizes) naming the field; a file past one is
/// refused with its place; nothing is truncated.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Earliest date accepted in a row, a history or an `as_of`. Default 2000-01-01 (a TOML
    /// date or a `"YYYY-MM-DD"` string).
    #[serde(deserialize_with = "toml_date")]
    pub earliest_date: chrono::NaiveDate,
    /// Latest date accepted, as days after today (UTC). Default 366: a year ahead covers time
    /// zones, clock skew and simulated worlds that run past today, and still refuses a
    /// mistyped year.
    pub future_days: u32,
    /// Most calendar days one scoring request's dates may span, first history day to the
    /// last (or to `as_of`): the engine fills every day in between. Default 1,096 (3 years).
    pub max_history_span_days: u32,
    /// Largest size a gzip or zip input may inflate to. Default 4 GiB.
    pub max_unpacked_bytes: u64,
    /// Largest ratio of inflated to compressed size (a compression bomb is refused, not read).
    /// Real reports compress 5–30×. Default 200.
    pub max_unpack_ratio: u64,
    /// Most retraining jobs one tenant may have queued or running at once. Default 4.
    pub max_jobs_per_tenant: usize,
}

/// A date written as a TOML date (`2000-01-01`) or as a string (`"2000-01-01"`).
fn toml_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono::NaiveDate, D::Error> {
    use serde::Deserialize;
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Toml(toml::value::Datetime),
    }
    let text = match Written::deserialize(d)? {
        Written::Text(t) => t,
        Written::Toml(t) => t.to_string(),
    };
    text.parse()
        .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a date (YYYY-MM-DD)")))
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            earliest_date: chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
            future_days: 366,
            max_history_span_days: 1_096,
            max_unpacked_bytes: 4 << 30,
            max_unpack_ratio: 200,
            max_jobs_per_tenant: 4,
        }
    }
}

impl Limits {
    /// The dates accepted today.
    pub fn dates(&self) -> crate::schema::DateRange {
        crate::schema::DateRange::until_today_plus(self.earliest_date, self.future_days)
    }

    /// The bounds of gzip and zip inputs.
    pub fn unpack(&self) -> crate::platforms::Unpack {
        crate::platforms::Unpack {
            max_bytes: self.max_unpacked_bytes,
            max_ratio: self.max_unpack_ratio,
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.max_history_span_days < 28 {
            return Err("limits.max_history_span_days: must be at least 28".into());
        }
        if self.max_unpack_ratio < 2 || self.max_unpacked_bytes < 1 << 20 {
            return Err(
                "limits: max_unpack_ratio must be at least 2 and max_unpacked_bytes at least 1 MiB"
                    .into(),
            );
        }
        if self.max_jobs_per_tenant == 0 {
            return Err("limits.max_jobs_per_tenant: must be at least 1".into());
        }
        if self.future_days > 3660 {
            return Err("limits.future_days: must be at most 3660".into());
        }
        Ok(())
    }
}

/// `[api]`: the HTTP service.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Listen address. Default `127.0.0.1:8080`.
    pub addr: String,
    /// Largest request body, bytes, for every route but batch scoring and ingest. Default 4 MiB.
    pub body_limit_bytes: usize,
    /// Largest body of `POST /v1/fatigue/score` and `POST /v1/ingest/{platform}` (a
    /// 10,000-creative batch with 28 days of history is about 21 MB). Default 64 MiB.
    pub batch_body_limit_bytes: usize,
    /// Most creatives in one scoring request. Default 10,000.
    pub max_batch_creatives: usize,
    /// A request taking longer is answered 503. Default 60 s.
    pub request_timeout_secs: u64,
    /// Sustained requests per second allowed per API key (bursts up to the same number);
    /// beyond it, 429 with `Retry-After`. Default 2,000.
    pub rate_limit_per_second: u32,
    /// Training jobs run at once (each on its own thread, off the request path). Default 1.
    pub job_workers: usize,
    /// How often the registry is checked for champions promoted elsewhere, ms. Default 1,000.
    pub model_poll_ms: u64,
    /// The first retry of a failed alert delivery waits about this long, each next one twice
    /// as long (5 attempts in all). Default 30,000 ms.
    pub alert_retry_base_ms: u64,
    /// Let alert destinations resolve to loopback, private or link-local addresses. Off by
    /// default, so a tenant's admin key cannot make the service call into its own network;
    /// turn on for receivers inside it. Default false.
    pub alert_private_targets: bool,
    /// Host names (or `host:port`) the MCP endpoint `/mcp` answers for; other `Host` headers
    /// get 403, against DNS rebinding. Empty: any host. Default the loopback names.
    pub mcp_allowed_hosts: Vec<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            addr: "127.0.0.1:8080".into(),
            body_limit_bytes: 4 << 20,
            batch_body_limit_bytes: 64 << 20,
            max_batch_creatives: 10_000,
            request_timeout_secs: 60,
            rate_limit_per_second: 2_000,
            job_workers: 1,
            model_poll_ms: 1_000,
            alert_retry_base_ms: 30_000,
            alert_private_targets: false,
            mcp_allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
        }
    }
}

/// `[[schedule]]`: enqueue a retraining job of `kind` for `tenants` (empty: every tenant in
/// the warehouse) every day at `daily_at` (UTC, `HH:MM`) or every `every_hours` hours.
/// A job already queued or running for the same tenant and kind is not duplicated. The first
/// time the server sees an entry it only records the time, so starting a server never
/// triggers a burst of retraining.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    /// `fatigue` or `budget`.
    pub kind: String,
    #[serde(default)]
    pub tenants: Vec<String>,
    #[serde(default)]
    pub daily_at: Option<String>,
    #[serde(default)]
    pub every_hours: Option<f64>,
}

impl ScheduleEntry {
    /// A stable name for the entry's last-run record.
    pub fn name(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.kind,
            self.tenants.join(","),
            self.daily_at.as_deref().unwrap_or(""),
            self.every_hours.map(|h| h.to_string()).unwrap_or_default()
        )
    }

    /// Checks the entry; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.kind != "fatigue" && self.kind != "budget" {
            return Err(format!(
                "schedule.kind: `{}` is not fatigue or budget",
                self.kind
            ));
        }
        match (&self.daily_at, self.every_hours) {
            (Some(t), None) => chrono::NaiveTime::parse_from_str(t, "%H:%M")
                .map(|_| ())
                .map_err(|_| format!("schedule.daily_at: `{t}` is not HH:MM (UTC)")),
            (None, Some(h)) if h.is_finite() && h > 0.0 => Ok(()),
            (None, Some(h)) => Err(format!(
                "schedule.every_hours: {h} is not a positive number"
            )),
            _ => Err("schedule: give exactly one of daily_at or every_hours".into()),
        }
    }

    /// Whether the entry is due at `now`, given when it last ran.
    pub fn due(
        &self,
        last: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        if let Some(h) = self.every_hours {
            return (now - last).num_seconds() as f64 >= h * 3600.0;
        }
        let Some(t) = self
            .daily_at
            .as_deref()
            .and_then(|t| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok())
        else {
            return false;
        };
        // The latest slot at or before now; due when the last run was before it.
        let today = now.date_naive().and_time(t).and_utc();
        let slot = if today <= now {
            today
        } else {
            today - chrono::Duration::days(1)
        };
        last < slot
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            warehouse_dir: None,
            models_dir: PathBuf::from("models"),
            state: None,
            tenant: "default".into(),
            conversion_events: ConversionEvents::default(),
            api: ApiConfig::default(),
            schedule: Vec::new(),
            limits: Limits::default(),
            alerts: Vec::new(),
        }
    }
}

/// A configuration file or variable that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
}

impl Config {
    /// Defaults, then the config file (explicit, `$OMNIFY_CONFIG`, or `./omnify.toml`), then
    /// environment variables. Flags are applied by the caller afterwards.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let env_path = std::env::var_os("OMNIFY_CONFIG").map(PathBuf::from);
        let path = explicit.map(Path::to_path_buf).or(env_path).or_else(|| {
            let p = PathBuf::from("omnify.toml");
            p.exists().then_some(p)
        });
        let mut cfg = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError::File {
                    path: p.clone(),
                    message: e.to_string(),
                })?;
                Config::from_toml(&text).map_err(|message| ConfigError::File {
                    path: p.clone(),
                    message,
                })?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok());
        Ok(cfg)
    }

    /// Parses TOML text over the defaults.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string().replace('\n', " "))?;
        for s in &c.schedule {
            s.validate()?;
        }
        c.limits.validate()?;
        let mut names = std::collections::HashSet::new();
        for a in &c.alerts {
            a.validate()?;
            if !names.insert(&a.name) {
                return Err(format!("alerts `{}`: the name is used twice", a.name));
            }
        }
        Ok(c)
    }

    /// Applies `OMNIFY_*` variables read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("OMNIFY_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = get("OMNIFY_WAREHOUSE_DIR") {
            self.warehouse_dir = Some(v.into());
        }
        if let Some(v) = get("OMNIFY_MODELS_DIR") {
            self.models_dir = v.into();
        }
        if let Some(v) = get("OMNIFY_STATE") {
            self.state = Some(v.into());
        }
        if let Some(v) = get("OMNIFY_TENANT") {
            self.tenant = v;
        }
        if let Some(v) = get("OMNIFY_ADDR") {
            self.api.addr = v;
        }
    }

    /// The warehouse folder in force.
    pub fn warehouse_dir(&self) -> PathBuf {
        self.warehouse_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("warehouse"))
    }

    /// The state file in force.
    pub fn state_path(&self) -> PathBuf {
        self.state
            .clone()
            .unwrap_or_else(|| self.data_dir.join("state.sqlite"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_defaults_file_env() {
        let mut c = Config::from_toml(
            "data_dir = \"/srv/omnify\"\ntenant = \"acme\"\nconversion_events = [[\"lead\"]]\n",
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/srv/omnify"));
        assert_eq!(c.warehouse_dir(), PathBuf::from("/srv/omnify/warehouse"));
        assert_eq!(c.models_dir, PathBuf::from("models"));
        assert_eq!(c.conversion_events.0, vec![vec!["lead".to_string()]]);
        c.apply_env(|k| (k == "OMNIFY_TENANT").then(|| "beta".to_string()));
        assert_eq!(c.tenant, "beta");
        assert_eq!(c.data_dir, PathBuf::from("/srv/omnify"));
    }

    #[test]
    fn schedule_entries_validate_and_fall_due() {
        let c = Config::from_toml(
            "[api]\naddr = \"0.0.0.0:9000\"\n[[schedule]]\nkind = \"fatigue\"\ndaily_at = \"02:30\"\n",
        )
        .unwrap();
        assert_eq!(c.api.addr, "0.0.0.0:9000");
        assert_eq!(c.api.job_workers, 1);
        let s = &c.schedule[0];
        let t = |x: &str| {
            chrono::DateTime::parse_from_rfc3339(x)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        // Last ran yesterday 02:30; at 02:29 today not due, at 02:31 due.
        assert!(!s.due(t("2026-11-25T02:30:00Z"), t("2026-11-26T02:29:00Z")));
        assert!(s.due(t("2026-11-25T02:30:00Z"), t("2026-11-26T02:31:00Z")));
        // Ran today after the slot: not due until tomorrow's.
        assert!(!s.due(t("2026-11-26T02:31:00Z"), t("2026-11-26T23:00:00Z")));
        let every = ScheduleEntry {
            kind: "budget".into(),
            tenants: vec![],
            daily_at: None,
            every_hours: Some(6.0),
        };
        assert!(!every.due(t("2026-11-26T00:00:00Z"), t("2026-11-26T05:59:00Z")));
        assert!(every.due(t("2026-11-26T00:00:00Z"), t("2026-11-26T06:00:00Z")));
        let e = Config::from_toml("[[schedule]]\nkind = \"fatigue\"\ndaily_at = \"25:00\"\n")
            .unwrap_err();
        assert!(e.contains("daily_at"), "{e}");
        let e = Config::from_toml("[[schedule]]\nkind = \"churn\"\nevery_hours = 1\n").unwrap_err();
        assert!(e.contains("schedule.kind"), "{e}");
    }

    /// The example in the README's Configuration section is a valid config file.
    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../README.md");
        let section = &readme[readme.find("## Configuration").unwrap()..];
        let start = section.find("```toml\n").unwrap() + 8;
        let end = start + section[start..].find("```").unwrap();
        let c = Config::from_toml(&section[start..end]).unwrap();
        assert_eq!(c.api, ApiConfig::default());
        assert_eq!(c.schedule.len(), 1);
        assert_eq!(c.schedule[0].daily_at.as_deref(), Some("02:00"));
        assert_eq!(c.alerts.len(), 1);
        assert_eq!(
            c.alerts[0].rules.creative_states,
            ["refresh_now", "fatigued"]
        );
        assert!(c.alerts[0].rules.job_failed);
        // The Limits section shows the defaults, as a valid file.
        let section = &readme[readme.find("## Limits").unwrap()..];
        let start = section.find("```toml\n").unwrap() + 8;
        let end = start + section[start..].find("```").unwrap();
        let c = Config::from_toml(&section[start..end]).unwrap();
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn alert_entries_are_checked_with_their_place() {
        let entry = |extra: &str| {
            format!(
                "[[alerts]]\nname = \"a\"\ntenant = \"t\"\nurl = \"https://x.example/h\"\n{extra}"
            )
        };
        let c = Config::from_toml(&entry("")).unwrap();
        assert_eq!(c.alerts[0].rules, crate::alerts::Rules::default());
        for (extra, want) in [
            ("format = \"email\"\n", "format"),
            (
                "[alerts.rules]\ncreative_states = [\"sad\"]\n",
                "creative_states[0]",
            ),
            ("[alerts.rules]\nbudget_gain_pct = -2\n", "budget_gain_pct"),
            ("colour = 1\n", "colour"),
        ] {
            let e = Config::from_toml(&entry(extra)).unwrap_err();
            assert!(e.contains(want), "{extra}: {e}");
        }
        let e = Config::from_toml(&entry("").replace("https://x.example/h", "file:///etc/passwd"))
            .unwrap_err();
        assert!(e.contains("alerts `a`: url"), "{e}");
        let e = Config::from_toml(&format!("{}{}", entry(""), entry(""))).unwrap_err();
        assert!(e.contains("used twice"), "{e}");
    }

    #[test]
    fn limits_read_dates_either_way_and_are_checked() {
        for text in [
            "earliest_date = 2010-05-01",
            "earliest_date = \"2010-05-01\"",
        ] {
            let c = Config::from_toml(&format!("[limits]\n{text}\n")).unwrap();
            assert_eq!(
                c.limits.earliest_date,
                chrono::NaiveDate::from_ymd_opt(2010, 5, 1).unwrap()
            );
        }
        let e = Config::from_toml("[limits]\nearliest_date = \"May 2010\"\n").unwrap_err();
        assert!(e.contains("May 2010"), "{e}");
        let e = Config::from_toml("[limits]\nmax_jobs_per_tenant = 0\n").unwrap_err();
        assert!(e.contains("max_jobs_per_tenant"), "{e}");
        let d = Limits::default().dates();
        assert_eq!(
            d.earliest,
            chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()
        );
        assert_eq!(
            d.latest,
            chrono::Utc::now().date_naive() + chrono::Duration::days(366)
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = Config::from_toml("data_dri = \"x\"").unwrap_err();
        assert!(e.contains("data_dri"), "{e}");
    }
}
