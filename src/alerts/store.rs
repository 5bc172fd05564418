//! Alert destinations, deliveries and the creatives' last states, in the state database.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Delivery, Destination, Format, Rules};
use crate::state::{State, StateError};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alert_destinations (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL,
    format TEXT NOT NULL, rules TEXT NOT NULL, secret TEXT NOT NULL, source TEXT NOT NULL,
    created TEXT NOT NULL, paused TEXT, failures INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    id TEXT PRIMARY KEY, destination TEXT NOT NULL, tenant TEXT NOT NULL, created TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_status INTEGER,
    last_error TEXT, delivered TEXT, events INTEGER NOT NULL, payload TEXT NOT NULL,
    next_attempt TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries(status, next_attempt);
CREATE INDEX IF NOT EXISTS alert_deliveries_tenant ON alert_deliveries(tenant, created);
CREATE TABLE IF NOT EXISTS alert_creatives (
    tenant TEXT NOT NULL, platform TEXT NOT NULL, account_id TEXT NOT NULL, ad_id TEXT NOT NULL,
    state TEXT NOT NULL, since TEXT NOT NULL, PRIMARY KEY (tenant, platform, account_id, ad_id));
CREATE TABLE IF NOT EXISTS alert_marks (
    tenant TEXT NOT NULL, mark TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (tenant, mark));
";

const DEST_COLS: &str =
    "id, tenant, name, url, format, rules, secret, source, created, paused, failures";
const DELIVERY_COLS: &str = "id, destination, tenant, created, status, attempts, last_status, \
    last_error, delivered, events, payload, next_attempt";

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn dest_from_row(r: &rusqlite::Row) -> rusqlite::Result<Destination> {
    let format: String = r.get(4)?;
    let rules: String = r.get(5)?;
    Ok(Destination {
        id: r.get(0)?,
        tenant: r.get(1)?,
        name: r.get(2)?,
        url: r.get(3)?,
        format: if format == "slack" {
            Format::Slack
        } else {
            Format::Webhook
        },
        rules: serde_json::from_str(&rules).unwrap_or_default(),
        secret: r.get(6)?,
        source: r.get(7)?,
        created: r.get(8)?,
        paused: r.get(9)?,
        failures: r.get(10)?,
    })
}

fn delivery_from_row(r: &rusqlite::Row) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        destination: r.get(1)?,
        tenant: r.get(2)?,
        created: r.get(3)?,
        status: r.get(4)?,
        attempts: r.get(5)?,
        last_status: r.get(6)?,
        last_error: r.get(7)?,
        delivered: r.get(8)?,
        events: r.get(9)?,
        payload: r.get(10)?,
        next_attempt: r.get(11)?,
    })
}

fn format_str(f: Format) -> &'static str {
    match f {
        Format::Webhook => "webhook",
        Format::Slack => "slack",
    }
}

/// What a new destination needs.
pub struct NewDestination<'a> {
    pub tenant: &'a str,
    pub name: &'a str,
    pub url: &'a str,
    pub format: Format,
    pub rules: &'a Rules,
    pub secret: &'a str,
}

impl State {
    /// Adds a destination made through the API or CLI.
    pub fn create_destination(&self, d: NewDestination) -> Result<Destination, StateError> {
        let id = format!("al_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let rules = serde_json::to_string(d.rules).unwrap_or_else(|_| "{}".into());
        self.with(|c| {
            c.execute(
                "INSERT INTO alert_destinations (id, tenant, name, url, format, rules, secret, \
                 source, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'api', ?8)",
                params![
                    id,
                    d.tenant,
                    d.name,
                    d.url,
                    format_str(d.format),
                    rules,
                    d.secret,
                    now()
                ],
            )
        })?;
        self.alert_destination(&id, Some(d.tenant))?
            .ok_or_else(|| StateError::Db {
                path: self.path().to_path_buf(),
                message: format!("alert destination {id} missing right after its insert"),
            })
    }

    /// Adds or updates a destination of the configuration file (id `cfg_<name>`).
    pub fn upsert_config_destination(
        &self,
        e: &crate::config::AlertEntry,
        secret: &str,
    ) -> Result<(), StateError> {
        let id = format!("cfg_{}", e.name);
        let rules = serde_json::to_string(&e.rules).unwrap_or_else(|_| "{}".into());
        self.with(|c| {
            c.execute(
                "INSERT INTO alert_destinations (id, tenant, name, url, format, rules, secret, \
                 source, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'config', ?8) \
                 ON CONFLICT(id) DO UPDATE SET tenant = excluded.tenant, url = excluded.url, \
                 format = excluded.format, rules = excluded.rules, secret = excluded.secret",
                params![
                    id,
                    e.tenant,
                    e.name,
                    e.url,
                    format_str(e.format),
                    rules,
                    secret,
                    now()
                ],
            )
            .map(|_| ())
        })
    }

    /// Destinations, of one tenant or all.
    pub fn alert_destinations(&self, tenant: Option<&str>) -> Result<Vec<Destination>, StateError> {
        self.with(|c| {
            let mut q = c.prepare(&format!(
                "SELECT {DEST_COLS} FROM alert_destinations \
                 WHERE (?1 IS NULL OR tenant = ?1) ORDER BY created, id"
            ))?;
            q.query_map(params![tenant], dest_from_row)?.collect()
        })
    }

    pub fn alert_destination(
        &self,
        id: &str,
        tenant: Option<&str>,
    ) -> Result<Option<Destination>, StateError> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {DEST_COLS} FROM alert_destinations \
                     WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)"
                ),
                params![id, tenant],
                dest_from_row,
            )
            .optional()
        })
    }

    /// Removes a destination and its deliveries; false when there is none.
    pub fn delete_destination(&self, id: &str, tenant: Option<&str>) -> Result<bool, StateError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute(
                "DELETE FROM alert_destinations WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)",
                params![id, tenant],
            )?;
            if n > 0 {
                tx.execute(
                    "DELETE FROM alert_deliveries WHERE destination = ?1",
                    params![id],
                )?;
            }
            tx.commit()?;
            Ok(n > 0)
        })
    }

    /// Resumes a paused destination (failures reset).
    pub fn resume_destination(
        &self,
        id: &str,
        tenant: Option<&str>,
    ) -> Result<Option<Destination>, StateError> {
        self.with(|c| {
            c.execute(
                "UPDATE alert_destinations SET paused = NULL, failures = 0 \
                 WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)",
                params![id, tenant],
            )
        })?;
        self.alert_destination(id, tenant)
    }

    /// Queues a delivery for its first attempt now.
    pub fn queue_delivery(
        &self,
        id: &str,
        d: &Destination,
        payload: &str,
        events: usize,
    ) -> Result<(), StateError> {
        let t = now();
        self.with(|c| {
            c.execute(
                "INSERT INTO alert_deliveries (id, destination, tenant, created, status, events, \
                 payload, next_attempt) VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?4)",
                params![id, d.id, d.tenant, t, events as i64, payload],
            )
            .map(|_| ())
        })
    }

    /// Deliveries, newest first.
    pub fn deliveries(
        &self,
        tenant: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StateError> {
        self.with(|c| {
            let mut q = c.prepare(&format!(
                "SELECT {DELIVERY_COLS} FROM alert_deliveries \
                 WHERE (?1 IS NULL OR tenant = ?1) ORDER BY created DESC, id DESC LIMIT ?2"
            ))?;
            q.query_map(params![tenant, limit as i64], delivery_from_row)?
                .collect()
        })
    }

    /// Queued deliveries whose next attempt is due at `at` (RFC 3339), oldest first.
    pub fn due_deliveries(&self, at: &str, limit: usize) -> Result<Vec<Delivery>, StateError> {
        self.with(|c| {
            let mut q = c.prepare(&format!(
                "SELECT {DELIVERY_COLS} FROM alert_deliveries \
                 WHERE status = 'queued' AND next_attempt <= ?1 ORDER BY next_attempt LIMIT ?2"
            ))?;
            q.query_map(params![at, limit as i64], delivery_from_row)?
                .collect()
        })
    }

    /// Records an attempt: delivered, retried at `retry_at`, or (without `retry_at`) failed
    /// for good. A failed delivery counts against its destination, which is paused after
    /// [`super::PAUSE_AFTER_FAILURES`] in a row; a delivered one resets the count.
    pub fn record_attempt(
        &self,
        id: &str,
        destination: &str,
        ok: bool,
        http_status: Option<u16>,
        error: Option<&str>,
        retry_at: Option<&str>,
    ) -> Result<(), StateError> {
        let t = now();
        self.with(|c| {
            let tx = c.transaction()?;
            let status = if ok {
                "delivered"
            } else if retry_at.is_some() {
                "queued"
            } else {
                "failed"
            };
            tx.execute(
                "UPDATE alert_deliveries SET status = ?2, attempts = attempts + 1, \
                 last_status = ?3, last_error = ?4, delivered = CASE WHEN ?5 THEN ?6 END, \
                 next_attempt = COALESCE(?7, next_attempt) WHERE id = ?1",
                params![
                    id,
                    status,
                    http_status.map(i64::from),
                    error,
                    ok,
                    t,
                    retry_at
                ],
            )?;
            if ok {
                tx.execute(
                    "UPDATE alert_destinations SET failures = 0 WHERE id = ?1",
                    params![destination],
                )?;
            } else if retry_at.is_none() {
                tx.execute(
                    "UPDATE alert_destinations SET failures = failures + 1, paused = CASE \
                     WHEN failures + 1 >= ?2 AND paused IS NULL THEN ?3 ELSE paused END \
                     WHERE id = ?1",
                    params![
                        destination,
                        super::PAUSE_AFTER_FAILURES,
                        format!(
                            "paused at {t} after {} failed deliveries in a row (last: {}); \
                             resume with POST /v1/alerts/{destination}/resume",
                            super::PAUSE_AFTER_FAILURES,
                            error.unwrap_or("no answer")
                        )
                    ],
                )?;
            }
            tx.commit()
        })
    }

    /// The last recorded state of every creative of `tenant`.
    pub fn creative_states(
        &self,
        tenant: &str,
    ) -> Result<HashMap<super::CreativeKey, String>, StateError> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT platform, account_id, ad_id, state FROM alert_creatives WHERE tenant = ?1",
            )?;
            q.query_map(params![tenant], |r| {
                Ok(((r.get(0)?, r.get(1)?, r.get(2)?), r.get(3)?))
            })?
            .collect()
        })
    }

    /// Records creatives' new states.
    pub fn set_creative_states(
        &self,
        tenant: &str,
        states: &[(super::CreativeKey, String)],
    ) -> Result<(), StateError> {
        let t = now();
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut q = tx.prepare(
                    "INSERT INTO alert_creatives (tenant, platform, account_id, ad_id, state, \
                     since) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(tenant, platform, \
                     account_id, ad_id) DO UPDATE SET state = excluded.state, since = excluded.since",
                )?;
                for ((p, a, ad), s) in states {
                    q.execute(params![tenant, p, a, ad, s, t])?;
                }
            }
            tx.commit()
        })
    }

    /// Whether `mark` was set for `tenant` (an alert sent once per model version).
    pub fn alert_mark(&self, tenant: &str, mark: &str) -> Result<bool, StateError> {
        self.with(|c| {
            c.query_row(
                "SELECT 1 FROM alert_marks WHERE tenant = ?1 AND mark = ?2",
                params![tenant, mark],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
        })
    }

    pub fn set_alert_mark(&self, tenant: &str, mark: &str) -> Result<(), StateError> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO alert_marks (tenant, mark, created) VALUES (?1, ?2, ?3)",
                params![tenant, mark, now()],
            )
            .map(|_| ())
        })
    }
}
