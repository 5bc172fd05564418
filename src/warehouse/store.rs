//! Where warehouse partitions live. The default is the local disk; the trait is the seam for
//! an object store later (docs/design.md §7), so callers never touch paths directly.
//!
//! Writes are atomic: a partition file is written to a temporary file in the same folder,
//! fsynced, renamed over the old one, and the folder is fsynced, so a reader (or a crash)
//! sees either the old file or the new one, never half of one.
//!
//! A write of several partitions (an ingest that spans months or platforms) is atomic as a
//! whole: every new file is first staged next to its partition and fsynced, then a journal
//! naming them is written atomically (the commit point), then each staged file is renamed
//! over its partition and the journal removed. A crash before the commit leaves the old
//! partitions (the staged files are removed by the next writer); a crash after it is rolled
//! forward by the next reader or writer, before it reads anything. Readers hold a shared
//! lock and the writer an exclusive one, so no reader sees half of a commit.
//!
//! A tenant erase first renames the tenant's folder out of the table (one atomic rename),
//! then removes it; a crash in between leaves nothing of the tenant visible, and the next
//! writer finishes the removal.

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
    /// Replaces every partition of `parts` with its bytes, all or none (see the module docs).
    /// The caller holds the exclusive lock.
    fn put_all_atomic(&self, parts: &[(PartitionKey, Vec<u8>)]) -> io::Result<()>;
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
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    /// A test's crash point inside [`LocalStore::put_all_atomic`]: 1 = after staging, before
    /// the commit; 2 = after the commit and the first rename.
    #[cfg(test)]
    pub(crate) crash_at: std::sync::atomic::AtomicU8,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(root.join("ad_daily"))?;
        Ok(LocalStore {
            root,
            #[cfg(test)]
            crash_at: std::sync::atomic::AtomicU8::new(0),
        })
    }

    #[cfg(test)]
    fn crash_point(&self, at: u8) -> io::Result<()> {
        if self.crash_at.load(std::sync::atomic::Ordering::SeqCst) == at {
            return Err(io::Error::other(format!("simulated crash at point {at}")));
        }
        Ok(())
    }

    #[cfg(not(test))]
    fn crash_point(&self, _: u8) -> io::Result<()> {
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn table_dir(&self) -> PathBuf {
        self.root.join("ad_daily")
    }

    fn journal(&self) -> PathBuf {
        self.root.join(".commit-journal.json")
    }

    /// Finishes a committed multi-partition write a crash interrupted: every staged file the
    /// journal names that is still there is renamed over its partition, then the journal is
    /// removed. Call with the exclusive lock held.
    fn roll_forward(&self) -> io::Result<()> {
        let path = self.journal();
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let journal: Journal = serde_json::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: unreadable commit journal: {e}", path.display()),
            )
        })?;
        let table = self.table_dir();
        for (staged, target) in &journal.renames {
            let (staged, target) = (table.join(staged), table.join(target));
            if staged.exists() {
                fs::rename(&staged, &target)?;
                sync_dir(target.parent());
            }
        }
        fs::remove_file(&path)?;
        sync_dir(Some(&self.root));
        Ok(())
    }

    /// Removes what an interrupted write or erase left that no journal names: staged files of
    /// an uncommitted write and folders of an erase. Call with the exclusive lock held, after
    /// [`LocalStore::roll_forward`].
    fn sweep(&self) -> io::Result<()> {
        let table = self.table_dir();
        if !table.exists() {
            return Ok(());
        }
        for t in fs::read_dir(&table)? {
            let t = t?;
            let name = t.file_name().to_string_lossy().into_owned();
            if name.starts_with(ERASING) {
                fs::remove_dir_all(t.path())?;
                continue;
            }
            if !name.starts_with("tenant=") || !t.file_type()?.is_dir() {
                continue;
            }
            for p in fs::read_dir(t.path())? {
                let p = p?;
                if !p.file_type()?.is_dir() {
                    continue;
                }
                for f in fs::read_dir(p.path())? {
                    let f = f?;
                    if f.file_name().to_string_lossy().starts_with(STAGED) {
                        fs::remove_file(f.path())?;
                    }
                }
            }
        }
        Ok(())
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

/// Name prefix of a staged partition file (hidden from [`PartitionStore::list`]).
const STAGED: &str = ".staged-";
/// Name prefix of a tenant folder being erased (not `tenant=`, so never listed).
const ERASING: &str = ".erasing-";

/// The renames of a committed multi-partition write, relative to the table folder.
#[derive(serde::Serialize, serde::Deserialize)]
struct Journal {
    renames: Vec<(PathBuf, PathBuf)>,
}

/// [`crate::fsutil::sync_dir`] of a path's folder, when it has one.
fn sync_dir(dir: Option<&Path>) {
    if let Some(d) = dir {
        crate::fsutil::sync_dir(d);
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

    fn put_all_atomic(&self, parts: &[(PartitionKey, Vec<u8>)]) -> io::Result<()> {
        if let [(key, bytes)] = parts {
            return self.put_atomic(key, bytes);
        }
        let table = self.table_dir();
        let mut renames = Vec::with_capacity(parts.len());
        for (key, bytes) in parts {
            let target = key.rel_path();
            let dir = table.join(target.parent().unwrap_or(Path::new("")));
            fs::create_dir_all(&dir)?;
            let tmp = crate::fsutil::write_synced_temp(&dir, STAGED, ".parquet", bytes)?;
            let staged = tmp.into_temp_path().keep().map_err(|e| e.error)?;
            // Relative to the table (the temp path may have been made absolute).
            let name = staged
                .file_name()
                .ok_or_else(|| io::Error::other("staged file"))?;
            let staged = target.parent().unwrap_or(Path::new("")).join(name);
            renames.push((staged, target));
        }
        self.crash_point(1)?;
        let journal = serde_json::to_vec(&Journal { renames }).map_err(io::Error::other)?;
        write_atomic(&self.journal(), &journal)?;
        // Committed: from here a crash is rolled forward.
        let Journal { renames } = serde_json::from_slice(&journal).map_err(io::Error::other)?;
        for (k, (staged, target)) in renames.iter().enumerate() {
            fs::rename(table.join(staged), table.join(target))?;
            sync_dir(table.join(target).parent());
            if k == 0 {
                self.crash_point(2)?;
            }
        }
        fs::remove_file(self.journal())?;
        sync_dir(Some(&self.root));
        Ok(())
    }

    fn delete_tenant(&self, tenant: &str) -> io::Result<usize> {
        let dir = self.table_dir().join(format!("tenant={tenant}"));
        if !dir.exists() {
            return Ok(0);
        }
        let n = self.list()?.iter().filter(|k| k.tenant == tenant).count();
        // Out of the table in one rename, then removed.
        let gone = self.table_dir().join(format!(
            "{ERASING}{tenant}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        fs::rename(&dir, &gone)?;
        sync_dir(Some(&self.table_dir()));
        fs::remove_dir_all(&gone)?;
        Ok(n)
    }

    fn lock_exclusive(&self) -> io::Result<WarehouseLock> {
        let file = self.lock_file()?;
        file.lock()?;
        self.roll_forward()?;
        self.sweep()?;
        Ok(WarehouseLock { _file: file })
    }

    fn lock_shared(&self) -> io::Result<WarehouseLock> {
        let file = self.lock_file()?;
        file.lock_shared()?;
        if self.journal().exists() {
            // A commit a crash interrupted: finished under the exclusive lock first.
            drop(file);
            drop(self.lock_exclusive()?);
            let file = self.lock_file()?;
            file.lock_shared()?;
            return Ok(WarehouseLock { _file: file });
        }
        Ok(WarehouseLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    fn key(month: &str) -> PartitionKey {
        PartitionKey {
            tenant: "acme".into(),
            platform: "meta".into(),
            month: month.into(),
        }
    }

    fn read(s: &LocalStore) -> Vec<(String, Vec<u8>)> {
        let _l = s.lock_shared().unwrap();
        s.list()
            .unwrap()
            .into_iter()
            .map(|k| {
                let b = fs::read(s.local_path(&k).unwrap()).unwrap();
                (k.month, b)
            })
            .collect()
    }

    fn files(dir: &Path) -> usize {
        fs::read_dir(dir).map_or(0, |d| d.count())
    }

    /// A write of three partitions interrupted before its commit leaves the old ones (the
    /// staged files removed by the next writer); interrupted after it, it is finished by the
    /// next reader: never a mix.
    #[test]
    fn multi_partition_writes_are_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path()).unwrap();
        let old: Vec<(PartitionKey, Vec<u8>)> = ["2026-01", "2026-02", "2026-03"]
            .iter()
            .map(|m| (key(m), format!("old {m}").into_bytes()))
            .collect();
        s.put_all_atomic(&old).unwrap();
        let before = read(&s);
        assert_eq!(before.len(), 3);
        let new: Vec<(PartitionKey, Vec<u8>)> = ["2026-01", "2026-02", "2026-03", "2026-04"]
            .iter()
            .map(|m| (key(m), format!("new {m}").into_bytes()))
            .collect();
        let part_dir = dir.path().join("ad_daily/tenant=acme/platform=meta");

        s.crash_at.store(1, Ordering::SeqCst);
        assert!(s.put_all_atomic(&new).is_err());
        assert_eq!(read(&s), before, "nothing committed is visible");
        assert_eq!(
            files(&part_dir),
            3 + 4,
            "staged files are left by the crash"
        );
        drop(s.lock_exclusive().unwrap());
        assert_eq!(files(&part_dir), 3, "the next writer removes them");

        s.crash_at.store(2, Ordering::SeqCst);
        assert!(s.put_all_atomic(&new).is_err());
        assert!(s.journal().exists());
        let after = read(&s);
        assert!(!s.journal().exists(), "rolled forward by the reader");
        assert_eq!(
            after,
            new.iter()
                .map(|(k, b)| (k.month.clone(), b.clone()))
                .collect::<Vec<_>>()
        );
        assert_eq!(files(&part_dir), 4);
    }

    /// An erase interrupted after its rename shows nothing of the tenant; the next writer
    /// removes the rest.
    #[test]
    fn erase_hides_the_tenant_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStore::new(dir.path()).unwrap();
        s.put_all_atomic(&[
            (key("2026-01"), b"x".to_vec()),
            (key("2026-02"), b"y".to_vec()),
        ])
        .unwrap();
        let table = dir.path().join("ad_daily");
        fs::rename(table.join("tenant=acme"), table.join(".erasing-acme-1")).unwrap();
        assert!(read(&s).is_empty());
        drop(s.lock_exclusive().unwrap());
        assert_eq!(files(&table), 0);
        assert_eq!(s.delete_tenant("acme").unwrap(), 0);
    }
}
