//! Where warehouse partitions live. The default is the local disk; the trait is the seam for
//! an object store later (DESIGN.md §7), so callers never touch paths directly.
//!
//! Writes are atomic: a partition file is written to a temporary file in the same folder,
//! fsynced, renamed over the old one, and the folder is fsynced, so a reader (or a crash)
//! sees either the old file or the new one, never half of one.

use std::fs::{self, File};

use crate::fsutil::write_atomic;
use std::io;
use std::path::{Path, PathBuf};

/// A partition of `ad_daily`: one tenant, one platform, one calendar month.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub tenant: String,
    pub platform: String,
    /// `YYYY-MM`.
    pub month: String,
}

impl PartitionKey {
    /// Relative path in Hive layout: `tenant=T/platform=P/YYYY-MM.parquet`.
    pub fn rel_path(&self) -> PathBuf {
        PathBuf::from(format!("tenant={}", self.tenant))
            .join(format!("platform={}", self.platform))
            .join(format!("{}.parquet", self.month))
    }
}

/// Storage of partition files (bytes in, bytes out) plus a writer lock.
pub trait PartitionStore: Send + Sync {
    /// Every partition present, sorted.
    fn list(&self) -> io::Result<Vec<PartitionKey>>;
    /// A local path a Parquet reader can open for the partition, if it exists.
    fn local_path(&self, key: &PartitionKey) -> Option<PathBuf>;
    /// What changes whenever the partition is rewritten (size and modification time), or
    /// `None` when it does not exist.
    fn stamp(&self, key: &PartitionKey) -> io::Result<Option<PartitionStamp>>;
    /// Replaces the partition atomically with `bytes`.
    fn put_atomic(&self, key: &PartitionKey, bytes: &[u8]) -> io::Result<()>;
    /// Removes every partition of a tenant (tenant erase).
    fn delete_tenant(&self, tenant: &str) -> io::Result<usize>;
    /// Blocks until this process holds the exclusive writer lock; released on drop.
    fn lock_exclusive(&self) -> io::Result<WarehouseLock>;
    /// Blocks until this process holds a shared reader lock (no writer is rewriting files while
    /// it is held); released on drop.
    fn lock_shared(&self) -> io::Result<WarehouseLock>;
}

/// Size in bytes and modification time (ns since the epoch) of a partition file: a rewrite
/// (a new file renamed over the old one) changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionStamp {
    pub bytes: u64,
    pub modified_ns: u128,
}

/// A lock on the warehouse (an OS file lock, so it also works across processes).
#[derive(Debug)]
pub struct WarehouseLock {
    _file: File,
}

/// Partitions as files under a root folder (`data/warehouse/ad_daily/...`).
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(root.join("ad_daily"))?;
        Ok(LocalStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn table_dir(&self) -> PathBuf {
        self.root.join("ad_daily")
    }

    fn lock_file(&self) -> io::Result<File> {
        File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(self.root.join(".lock"))
    }
}

fn strip_prefix<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    name.strip_prefix(prefix)
}

impl PartitionStore for LocalStore {
    fn list(&self) -> io::Result<Vec<PartitionKey>> {
        let mut out = Vec::new();
        let dir = self.table_dir();
        if !dir.exists() {
            return Ok(out);
        }
        for t in fs::read_dir(&dir)? {
            let t = t?;
            let tname = t.file_name().to_string_lossy().into_owned();
            let Some(tenant) = strip_prefix(&tname, "tenant=") else {
                continue;
            };
            if !t.file_type()?.is_dir() {
                continue;
            }
            for p in fs::read_dir(t.path())? {
                let p = p?;
                let pname = p.file_name().to_string_lossy().into_owned();
                let Some(platform) = strip_prefix(&pname, "platform=") else {
                    continue;
                };
                if !p.file_type()?.is_dir() {
                    continue;
                }
                for f in fs::read_dir(p.path())? {
                    let f = f?;
                    let fname = f.file_name().to_string_lossy().into_owned();
                    if let Some(month) = fname.strip_suffix(".parquet")
                        && !fname.starts_with('.')
                    {
                        out.push(PartitionKey {
                            tenant: tenant.to_string(),
                            platform: platform.to_string(),
                            month: month.to_string(),
                        });
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn local_path(&self, key: &PartitionKey) -> Option<PathBuf> {
        let p = self.table_dir().join(key.rel_path());
        p.exists().then_some(p)
    }

    fn stamp(&self, key: &PartitionKey) -> io::Result<Option<PartitionStamp>> {
        match fs::metadata(self.table_dir().join(key.rel_path())) {
            Ok(m) => Ok(Some(PartitionStamp {
                bytes: m.len(),
                modified_ns: m
                    .modified()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn put_atomic(&self, key: &PartitionKey, bytes: &[u8]) -> io::Result<()> {
        let path = self.table_dir().join(key.rel_path());
        write_atomic(&path, bytes)
    }

    fn delete_tenant(&self, tenant: &str) -> io::Result<usize> {
        let dir = self.table_dir().join(format!("tenant={tenant}"));
        if !dir.exists() {
            return Ok(0);
        }
        let n = self.list()?.iter().filter(|k| k.tenant == tenant).count();
        fs::remove_dir_all(&dir)?;
        Ok(n)
    }

    fn lock_exclusive(&self) -> io::Result<WarehouseLock> {
        let file = self.lock_file()?;
        file.lock()?;
        Ok(WarehouseLock { _file: file })
    }

    fn lock_shared(&self) -> io::Result<WarehouseLock> {
        let file = self.lock_file()?;
        file.lock_shared()?;
        Ok(WarehouseLock { _file: file })
    }
}
