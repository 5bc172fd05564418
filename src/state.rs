//! The service state in an embedded SQLite file (docs/design.md §7): API keys (hashed), retraining
//! jobs and the schedule's last runs. One file, WAL mode and a busy timeout, so the server and
//! CLI commands in other processes (`omnify keys create`) share it safely.
//!
//! Keys look like `omk_<id>_<secret>`: `id` is 12 public hex digits used to find the row, the
//! secret 32 random bytes (256 bits) in URL-safe base64. Only the SHA-256 of the whole key is
//! stored, and the presented key's hash is compared in constant time. A key is never shown
//! again after creation.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do. Each role includes the ones before it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Score, forecast, read models, jobs and reports.
    Read,
    /// + ingest, jobs, promote and roll back.
    Write,
    /// + keys and tenant erase.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "read" => Some(Role::Read),
            "write" => Some(Role::Write),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A stored key (never the secret).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct KeyRecord {
    pub id: String,
    pub tenant: String,
    pub role: Role,
    pub label: String,
    pub created: String,
    pub revoked: Option<String>,
}

/// A job's life: queued → running → succeeded | failed | cancelled.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }
    fn parse(s: &str) -> JobStatus {
        match s {
            "running" => JobStatus::Running,
            "succeeded" => JobStatus::Succeeded,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            _ => JobStatus::Queued,
        }
    }
    pub fn finished(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// A retraining job as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Job {
    pub id: String,
    pub tenant: String,
    /// `fatigue` or `budget`.
    pub kind: String,
    /// Overrides of the job spec (JSON object), if any.
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    pub status: JobStatus,
    /// 0–1.
    pub progress: f64,
    /// The current step, or why it ended.
    pub message: String,
    /// `api`, `schedule` or `cli`.
    pub source: String,
    pub created: String,
    pub started: Option<String>,
    pub finished: Option<String>,
    /// Seconds from start to finish.
    pub duration_seconds: Option<f64>,
    /// The registered model version.
    pub version: Option<String>,
    pub promoted: Option<bool>,
    pub error: Option<String>,
    /// Times the job was interrupted by a restart and requeued.
    pub interruptions: i64,
    pub cancel_requested: bool,
}

/// A state operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state database {path}: {message}")]
    Db { path: PathBuf, message: String },
}

/// The SQLite state store.
#[derive(Debug)]
pub struct State {
    path: PathBuf,
    conn: Mutex<Connection>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// SHA-256 of a key, hex.
fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The public id part of a presented key, if it has the documented shape.
pub fn key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("omk_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty())
        .then_some(id)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, role TEXT NOT NULL, label TEXT NOT NULL,
    hash TEXT NOT NULL, created TEXT NOT NULL, revoked TEXT);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, kind TEXT NOT NULL, config TEXT,
    status TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL, created TEXT NOT NULL, started TEXT, finished TEXT,
    duration REAL, version TEXT, promoted INTEGER, error TEXT,
    interruptions INTEGER NOT NULL DEFAULT 0, cancel_requested INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created);
CREATE INDEX IF NOT EXISTS jobs_tenant ON jobs(tenant, created);
CREATE TABLE IF NOT EXISTS schedule_runs (name TEXT PRIMARY KEY, last_run TEXT NOT NULL);
";

const JOB_COLS: &str = "id, tenant, kind, config, status, progress, message, source, created, \
    started, finished, duration, version, promoted, error, interruptions, cancel_requested";

fn job_from_row(r: &rusqlite::Row) -> rusqlite::Result<Job> {
    let config: Option<String> = r.get(3)?;
    let status: String = r.get(4)?;
    let promoted: Option<i64> = r.get(13)?;
    let cancel: i64 = r.get(16)?;
    Ok(Job {
        id: r.get(0)?,
        tenant: r.get(1)?,
        kind: r.get(2)?,
        config: config.and_then(|c| serde_json::from_str(&c).ok()),
        status: JobStatus::parse(&status),
        progress: r.get(5)?,
        message: r.get(6)?,
        source: r.get(7)?,
        created: r.get(8)?,
        started: r.get(9)?,
        finished: r.get(10)?,
        duration_seconds: r.get(11)?,
        version: r.get(12)?,
        promoted: promoted.map(|p| p != 0),
        error: r.get(14)?,
        interruptions: r.get(15)?,
        cancel_requested: cancel != 0,
    })
}

fn key_from_row(r: &rusqlite::Row) -> rusqlite::Result<(KeyRecord, String)> {
    let role: String = r.get(2)?;
    Ok((
        KeyRecord {
            id: r.get(0)?,
            tenant: r.get(1)?,
            role: Role::parse(&role).unwrap_or(Role::Read),
            label: r.get(3)?,
            created: r.get(5)?,
            revoked: r.get(6)?,
        },
        r.get(4)?,
    ))
}

impl State {
    /// Opens (creating when missing) the state file and its tables.
    pub fn open(path: impl AsRef<Path>) -> Result<State, StateError> {
        let path = path.as_ref().to_path_buf();
        let err = |e: &dyn std::fmt::Display| StateError::Db {
            path: path.clone(),
            message: e.to_string(),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| err(&e))?;
        }
        let conn = Connection::open(&path).map_err(|e| err(&e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| err(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| err(&e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| err(&e))?;
        conn.execute_batch(SCHEMA).map_err(|e| err(&e))?;
        conn.execute_batch(crate::alerts::store::SCHEMA)
            .map_err(|e| err(&e))?;
        Ok(State {
            path,
            conn: Mutex::new(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StateError> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c).map_err(|e| StateError::Db {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }

    /// `SELECT 1`: the state answers.
    pub fn ping(&self) -> Result<(), StateError> {
        self.with(|c| c.query_row("SELECT 1", [], |_| Ok(())))
    }

    // ---------------------------------------------------------------- keys

    /// Creates a key; returns its record and the key itself (shown once, never stored).
    pub fn create_key(
        &self,
        tenant: &str,
        role: Role,
        label: &str,
    ) -> Result<(KeyRecord, String), StateError> {
        use rand::RngCore;
        let mut rng = rand::rngs::OsRng;
        let mut id = [0u8; 6];
        rng.fill_bytes(&mut id);
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let id = hex::encode(id);
        let key = format!(
            "omk_{id}_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        let rec = KeyRecord {
            id: id.clone(),
            tenant: tenant.to_string(),
            role,
            label: label.to_string(),
            created: now(),
            revoked: None,
        };
        self.with(|c| {
            c.execute(
                "INSERT INTO keys (id, tenant, role, label, hash, created) VALUES (?1,?2,?3,?4,?5,?6)",
                params![rec.id, rec.tenant, role.as_str(), rec.label, hash_key(&key), rec.created],
            )
        })?;
        Ok((rec, key))
    }

    /// The record of a presented key when it exists, matches and is not revoked.
    pub fn authenticate(&self, key: &str) -> Result<Option<KeyRecord>, StateError> {
        let Some(id) = key_id(key) else {
            return Ok(None);
        };
        let row = self.with(|c| {
            c.query_row(
                "SELECT id, tenant, role, label, hash, created, revoked FROM keys WHERE id = ?1",
                params![id],
                key_from_row,
            )
            .optional()
        })?;
        let Some((rec, stored)) = row else {
            return Ok(None);
        };
        let presented = hash_key(key);
        let same: bool = presented.as_bytes().ct_eq(stored.as_bytes()).into();
        Ok((same && rec.revoked.is_none()).then_some(rec))
    }

    /// Keys of a tenant (or every tenant), oldest first.
    pub fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<KeyRecord>, StateError> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, tenant, role, label, hash, created, revoked FROM keys \
                 WHERE (?1 IS NULL OR tenant = ?1) ORDER BY created, id",
            )?;
            let rows = st.query_map(params![tenant], key_from_row)?;
            rows.map(|r| r.map(|(k, _)| k)).collect()
        })
    }

    /// Revokes a key (of `tenant` when given). Returns false when no such active key exists.
    pub fn revoke_key(&self, id: &str, tenant: Option<&str>) -> Result<bool, StateError> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE keys SET revoked = ?1 WHERE id = ?2 AND revoked IS NULL \
                 AND (?3 IS NULL OR tenant = ?3)",
                params![now(), id, tenant],
            )
        })?;
        Ok(n > 0)
    }

    /// Whether any active admin key exists.
    pub fn has_admin_key(&self) -> Result<bool, StateError> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM keys WHERE role = 'admin' AND revoked IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n > 0)
    }

    // ---------------------------------------------------------------- jobs

    /// Queues a job.
    pub fn enqueue(
        &self,
        tenant: &str,
        kind: &str,
        config: Option<&serde_json::Value>,
        source: &str,
    ) -> Result<Job, StateError> {
        self.enqueue_within(tenant, kind, config, source, usize::MAX)?
            .ok_or_else(|| StateError::Db {
                path: self.path.clone(),
                message: "a job was refused without a limit".into(),
            })
    }

    /// Queues a job unless the tenant already has `max` jobs queued or running (then none):
    /// the count and the insert are one transaction, so two requests cannot both pass it.
    pub fn enqueue_within(
        &self,
        tenant: &str,
        kind: &str,
        config: Option<&serde_json::Value>,
        source: &str,
        max: usize,
    ) -> Result<Option<Job>, StateError> {
        let id = uuid::Uuid::now_v7().to_string();
        let cfg = config.map(|v| v.to_string());
        let created = now();
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let queued = self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let active: i64 = tx.query_row(
                "SELECT COUNT(*) FROM jobs WHERE tenant = ?1 AND status IN ('queued','running')",
                params![tenant],
                |r| r.get(0),
            )?;
            if active >= max {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO jobs (id, tenant, kind, config, status, source, created, message) \
                 VALUES (?1,?2,?3,?4,'queued',?5,?6,'waiting for a worker')",
                params![id, tenant, kind, cfg, source, created],
            )?;
            tx.commit()?;
            Ok(true)
        })?;
        if !queued {
            return Ok(None);
        }
        self.job(&id, None)?
            .ok_or_else(|| StateError::Db {
                path: self.path.clone(),
                message: format!("job {id} vanished right after it was queued"),
            })
            .map(Some)
    }

    /// A job by id, restricted to `tenant` when given.
    pub fn job(&self, id: &str, tenant: Option<&str>) -> Result<Option<Job>, StateError> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {JOB_COLS} FROM jobs WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)"
                ),
                params![id, tenant],
                job_from_row,
            )
            .optional()
        })
    }

    /// Jobs of a tenant, newest first (at most `limit`).
    pub fn jobs(&self, tenant: Option<&str>, limit: usize) -> Result<Vec<Job>, StateError> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {JOB_COLS} FROM jobs WHERE (?1 IS NULL OR tenant = ?1) \
                 ORDER BY created DESC, id DESC LIMIT ?2"
            ))?;
            let rows = st.query_map(params![tenant, limit as i64], job_from_row)?;
            rows.collect()
        })
    }

    /// Number of jobs per status.
    pub fn job_counts(&self) -> Result<Vec<(JobStatus, i64)>, StateError> {
        self.with(|c| {
            let mut st = c.prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status")?;
            let rows = st.query_map([], |r| {
                Ok((JobStatus::parse(&r.get::<_, String>(0)?), r.get(1)?))
            })?;
            rows.collect()
        })
    }

    /// Claims the oldest queued job (marks it running). Atomic across processes.
    pub fn claim(&self) -> Result<Option<Job>, StateError> {
        let id: Option<String> = self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let id: Option<String> = tx
                .query_row(
                    "SELECT id FROM jobs WHERE status = 'queued' ORDER BY created, id LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = &id {
                tx.execute(
                    "UPDATE jobs SET status = 'running', started = ?1, progress = 0, \
                     message = 'starting' WHERE id = ?2",
                    params![now(), id],
                )?;
            }
            tx.commit()?;
            Ok(id)
        })?;
        match id {
            Some(id) => self.job(&id, None),
            None => Ok(None),
        }
    }

    /// Records progress of a running job; returns whether a cancel was requested.
    pub fn progress(&self, id: &str, progress: f64, message: &str) -> Result<bool, StateError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET progress = ?1, message = ?2 WHERE id = ?3 AND status = 'running'",
                params![progress.clamp(0.0, 1.0), message, id],
            )?;
            c.query_row(
                "SELECT cancel_requested FROM jobs WHERE id = ?1",
                params![id],
                |r| r.get::<_, i64>(0),
            )
            .map(|v| v != 0)
        })
    }

    fn finish(
        &self,
        id: &str,
        status: JobStatus,
        message: &str,
        version: Option<&str>,
        promoted: Option<bool>,
        error: Option<&str>,
    ) -> Result<(), StateError> {
        let t = chrono::Utc::now();
        self.with(|c| {
            let started: Option<String> = c
                .query_row("SELECT started FROM jobs WHERE id = ?1", params![id], |r| {
                    r.get(0)
                })
                .optional()?
                .flatten();
            let duration = started
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
                .map(|s| (t - s.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0);
            c.execute(
                "UPDATE jobs SET status = ?1, message = ?2, finished = ?3, duration = ?4, \
                 version = ?5, promoted = ?6, error = ?7, \
                 progress = CASE WHEN ?1 = 'succeeded' THEN 1.0 ELSE progress END WHERE id = ?8",
                params![
                    status.as_str(),
                    message,
                    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    duration,
                    version,
                    promoted.map(i64::from),
                    error,
                    id
                ],
            )?;
            Ok(())
        })
    }

    /// Marks a running job succeeded with the version it registered.
    pub fn succeed(
        &self,
        id: &str,
        version: &str,
        promoted: bool,
        message: &str,
    ) -> Result<(), StateError> {
        self.finish(
            id,
            JobStatus::Succeeded,
            message,
            Some(version),
            Some(promoted),
            None,
        )
    }

    /// Marks a job failed.
    pub fn fail(&self, id: &str, error: &str) -> Result<(), StateError> {
        self.finish(id, JobStatus::Failed, "failed", None, None, Some(error))
    }

    /// Marks a job cancelled.
    pub fn mark_cancelled(&self, id: &str, message: &str) -> Result<(), StateError> {
        self.finish(id, JobStatus::Cancelled, message, None, None, None)
    }

    /// Cancels a job of `tenant`: a queued job is cancelled at once, a running one is asked to
    /// stop (it stops at its next step and registers nothing). Returns the job after the
    /// request, or `None` when there is no such job.
    pub fn cancel(&self, id: &str, tenant: Option<&str>) -> Result<Option<Job>, StateError> {
        let Some(job) = self.job(id, tenant)? else {
            return Ok(None);
        };
        match job.status {
            JobStatus::Queued => {
                self.with(|c| {
                    c.execute(
                        "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1",
                        params![id],
                    )
                })?;
                self.mark_cancelled(id, "cancelled before it started")?;
            }
            JobStatus::Running => {
                self.with(|c| {
                    c.execute(
                        "UPDATE jobs SET cancel_requested = 1, message = 'cancelling' WHERE id = ?1",
                        params![id],
                    )
                })?;
            }
            _ => {}
        }
        self.job(id, tenant)
    }

    /// After a restart: jobs left `running` by a process that died are requeued and counted.
    /// Returns how many.
    pub fn requeue_interrupted(&self) -> Result<usize, StateError> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = 'queued', started = NULL, progress = 0, \
                 interruptions = interruptions + 1, \
                 message = 'interrupted by a restart; requeued' WHERE status = 'running'",
                [],
            )
        })
    }

    /// Erases a tenant's jobs and keys. Returns (jobs, keys) removed.
    pub fn delete_tenant(&self, tenant: &str) -> Result<(usize, usize), StateError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let j = tx.execute("DELETE FROM jobs WHERE tenant = ?1", params![tenant])?;
            let k = tx.execute("DELETE FROM keys WHERE tenant = ?1", params![tenant])?;
            for t in [
                "alert_destinations",
                "alert_deliveries",
                "alert_creatives",
                "alert_marks",
            ] {
                tx.execute(
                    &format!("DELETE FROM {t} WHERE tenant = ?1"),
                    params![tenant],
                )?;
            }
            tx.commit()?;
            Ok((j, k))
        })
    }

    // ---------------------------------------------------------------- schedule

    /// When the schedule entry `name` last enqueued its jobs.
    pub fn last_run(&self, name: &str) -> Result<Option<String>, StateError> {
        self.with(|c| {
            c.query_row(
                "SELECT last_run FROM schedule_runs WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// Records that the schedule entry `name` ran at `when` (RFC 3339).
    pub fn set_last_run(&self, name: &str, when: &str) -> Result<(), StateError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO schedule_runs (name, last_run) VALUES (?1, ?2) \
                 ON CONFLICT(name) DO UPDATE SET last_run = excluded.last_run",
                params![name, when],
            )
            .map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hashed_checked_and_revocable() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::open(dir.path().join("state.sqlite")).unwrap();
        let (rec, key) = s.create_key("acme", Role::Write, "ci").unwrap();
        // omk_ + 12 hex + _ + 43 base64url chars (32 bytes without padding).
        assert_eq!(key.len(), 4 + 12 + 1 + 43, "{key}");
        assert_eq!(key_id(&key), Some(rec.id.as_str()));
        assert_eq!(s.authenticate(&key).unwrap().unwrap().tenant, "acme");
        // The secret is not stored anywhere in the file.
        let bytes = std::fs::read(dir.path().join("state.sqlite")).unwrap();
        let secret = key.rsplit('_').next().unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        // A wrong secret with the right id fails; so do malformed keys.
        let forged = format!("omk_{}_{}", rec.id, "A".repeat(43));
        assert!(s.authenticate(&forged).unwrap().is_none());
        assert!(s.authenticate("omk_zz").unwrap().is_none());
        assert!(s.authenticate("").unwrap().is_none());
        // Another tenant cannot revoke it; its own tenant can.
        assert!(!s.revoke_key(&rec.id, Some("other")).unwrap());
        assert!(s.revoke_key(&rec.id, Some("acme")).unwrap());
        assert!(s.authenticate(&key).unwrap().is_none());
        assert!(s.list_keys(Some("acme")).unwrap()[0].revoked.is_some());
    }

    #[test]
    fn jobs_queue_claim_cancel_and_requeue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let s = State::open(&path).unwrap();
        let a = s.enqueue("acme", "fatigue", None, "api").unwrap();
        let b = s
            .enqueue(
                "acme",
                "budget",
                Some(&serde_json::json!({"fit": {"draws": 5}})),
                "api",
            )
            .unwrap();
        let c = s.enqueue("beta", "budget", None, "api").unwrap();
        assert_eq!(a.status, JobStatus::Queued);
        // Tenant scoping.
        assert!(s.job(&c.id, Some("acme")).unwrap().is_none());
        assert_eq!(s.jobs(Some("acme"), 10).unwrap().len(), 2);
        // Oldest first.
        let got = s.claim().unwrap().unwrap();
        assert_eq!(got.id, a.id);
        assert_eq!(got.status, JobStatus::Running);
        assert!(!s.progress(&a.id, 0.5, "fitting").unwrap());
        // Cancel a queued job: immediate. A running one: requested.
        assert_eq!(
            s.cancel(&b.id, Some("acme")).unwrap().unwrap().status,
            JobStatus::Cancelled
        );
        assert!(s.cancel(&a.id, Some("beta")).unwrap().is_none());
        let r = s.cancel(&a.id, Some("acme")).unwrap().unwrap();
        assert_eq!(r.status, JobStatus::Running);
        assert!(r.cancel_requested);
        assert!(s.progress(&a.id, 0.6, "fitting").unwrap());
        // Restart: the running job is requeued and counted; reopen shares the file.
        drop(s);
        let s = State::open(&path).unwrap();
        assert_eq!(s.requeue_interrupted().unwrap(), 1);
        let j = s.job(&a.id, None).unwrap().unwrap();
        assert_eq!((j.status, j.interruptions), (JobStatus::Queued, 1));
        let next = s.claim().unwrap().unwrap();
        assert_eq!(next.id, a.id);
        s.succeed(&a.id, "v1", true, "done").unwrap();
        let j = s.job(&a.id, None).unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Succeeded);
        assert_eq!(j.progress, 1.0);
        assert!(j.duration_seconds.unwrap() >= 0.0);
        let counts = s.job_counts().unwrap();
        assert!(counts.contains(&(JobStatus::Succeeded, 1)));
        assert!(counts.contains(&(JobStatus::Cancelled, 1)));
        assert!(counts.contains(&(JobStatus::Queued, 1)));
        assert_eq!(s.delete_tenant("beta").unwrap(), (1, 0));
    }
}
