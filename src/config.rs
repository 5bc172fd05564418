//! Typed configuration: defaults → file → environment → command-line flags, in that order of
//! precedence (later wins). The file is `--config FILE`, else `$OMNIFY_CONFIG`, else
//! `./omnify.toml` when present. Environment variables: `OMNIFY_DATA_DIR`,
//! `OMNIFY_WAREHOUSE_DIR`, `OMNIFY_MODELS_DIR`, `OMNIFY_STATE`, `OMNIFY_TENANT`.

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
        toml::from_str(text).map_err(|e| e.to_string().replace('\n', " "))
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
    fn unknown_keys_are_rejected() {
        let e = Config::from_toml("data_dri = \"x\"").unwrap_err();
        assert!(e.contains("data_dri"), "{e}");
    }
}
