//! File-system helpers shared by every layer that writes files users keep.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` atomically: temp file in the same folder, fsync, rename, fsync the
/// folder. Creates missing parent folders. The file gets mode 0644 (temp files start
/// owner-only, which would make warehouse partitions, models and reports unreadable to other
/// users and services).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = write_synced_temp(dir, ".tmp-", "", bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// A temporary file in `dir` (named `prefix…suffix`) holding `bytes`, mode 0644, fsynced:
/// ready to be renamed over its target.
pub fn write_synced_temp(
    dir: &Path,
    prefix: &str,
    suffix: &str,
    bytes: &[u8],
) -> io::Result<tempfile::NamedTempFile> {
    let mut tmp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(suffix)
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// Persists the renames and removals in `dir` (best effort: not every platform supports it).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_whole_files_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.bin");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two!").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two!");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o644
            );
        }
        // No temp files are left behind.
        assert_eq!(fs::read_dir(dir.path().join("a")).unwrap().count(), 1);
    }
}
