//! Writing a script's extra file into a job's working directory, unpacking
//! ZIP archives without letting any entry escape the directory.

use std::io::{Cursor, Read};

/// Most entries a ZIP extra file may hold.
const MAX_ENTRIES: usize = 100_000;
use std::path::{Component, Path, PathBuf};

/// Writes `bytes` as `dir/<name>` and, for a `.zip`, unpacks it into `dir`.
/// Refuses (naming the entry) any entry that is absolute, climbs with `..`
/// or is a symbolic link; nothing is written outside `dir`. An archive that
/// unpacks to more than `max_unpacked` bytes, or holds more than
/// [`MAX_ENTRIES`] entries, is refused: the declared sizes are checked
/// first, and the bytes really written are counted as they stream to disk,
/// so a forged size cannot get past the limit. Blocking: call from
/// `spawn_blocking`.
pub fn place_extra_file(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    max_unpacked: u64,
) -> Result<usize, String> {
    let file_name = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .ok_or_else(|| format!("the extra file's name {name:?} is not a file name"))?;
    std::fs::write(dir.join(file_name), bytes)
        .map_err(|e| format!("cannot write the extra file {file_name:?}: {e}"))?;
    if !file_name.to_ascii_lowercase().ends_with(".zip") {
        return Ok(0);
    }
    unzip(dir, file_name, bytes, max_unpacked)
}

fn unzip(dir: &Path, file_name: &str, bytes: &[u8], max_unpacked: u64) -> Result<usize, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("the extra file {file_name:?} is not a readable ZIP archive: {e}"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!(
            "the ZIP archive {file_name:?} holds {} entries; at most {MAX_ENTRIES} are unpacked",
            archive.len()
        ));
    }
    let too_big = || {
        format!(
            "the ZIP archive {file_name:?} unpacks to more than {max_unpacked} bytes \
             (TASKWRIGHT_MAX_UNPACKED_BYTES)"
        )
    };
    let mut declared: u64 = 0;

    // Check every entry before writing any, so a bad archive leaves nothing behind.
    let mut plan: Vec<(usize, PathBuf, bool)> = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| format!("entry {i} of {file_name:?} cannot be read: {e}"))?;
        let raw = entry.name().to_string();
        if entry.is_symlink() {
            return Err(format!(
                "the ZIP entry {raw:?} is a symbolic link; links are refused so nothing \
                 can point outside the job's directory"
            ));
        }
        let rel = safe_relative(&raw).ok_or_else(|| {
            format!("the ZIP entry {raw:?} would be written outside the job's directory")
        })?;
        declared = declared.saturating_add(entry.size());
        if declared > max_unpacked {
            return Err(too_big());
        }
        plan.push((i, rel, entry.is_dir()));
    }

    let mut files = 0;
    let mut written: u64 = 0;
    for (i, rel, is_dir) in plan {
        let target = dir.join(&rel);
        if is_dir {
            std::fs::create_dir_all(&target)
                .map_err(|e| format!("cannot create {}: {e}", rel.display()))?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("cannot unpack {}: {e}", rel.display()))?;
        let mut out = std::fs::File::create(&target)
            .map_err(|e| format!("cannot write {}: {e}", rel.display()))?;
        // One byte more than the budget left tells an over-long entry apart.
        let budget = max_unpacked - written;
        let n = std::io::copy(&mut (&mut entry).take(budget + 1), &mut out)
            .map_err(|e| format!("cannot unpack {}: {e}", rel.display()))?;
        if n > budget {
            return Err(too_big());
        }
        written += n;
        files += 1;
    }
    Ok(files)
}

/// The entry's path if it stays inside the directory: only normal
/// components, no root, no `..`, no drive prefix, no backslash tricks.
fn safe_relative(raw: &str) -> Option<PathBuf> {
    if raw.contains('\\') || raw.contains('\0') {
        return None;
    }
    let path = Path::new(raw);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::{place_extra_file, safe_relative};
    use std::io::Write;

    /// A ZIP of one deflated entry of `size` zero bytes.
    fn zeros_zip(size: usize) -> Vec<u8> {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.start_file("zeros.bin", opts).unwrap();
        z.write_all(&vec![0u8; size]).unwrap();
        z.finish().unwrap().into_inner()
    }

    /// A ZIP bomb is refused by its declared size, before anything is unpacked.
    #[test]
    fn archive_over_the_unpacked_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            place_extra_file(dir.path(), "bomb.zip", &zeros_zip(1_000_000), 100_000).unwrap_err();
        assert!(err.contains("unpacks to more than 100000 bytes"), "{err}");
        assert!(!dir.path().join("zeros.bin").exists());
        place_extra_file(dir.path(), "fine.zip", &zeros_zip(1_000_000), 1_000_000).unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join("zeros.bin"))
                .unwrap()
                .len(),
            1_000_000
        );
    }

    /// An archive that understates its sizes still cannot write past the limit.
    #[test]
    fn forged_small_sizes_do_not_get_past_the_limit() {
        let mut bytes = zeros_zip(1_000_000);
        // Rewrite the uncompressed size (offset 24 in the central directory
        // entry, 22 in the local header) to claim 10 bytes.
        for (sig, off) in [(b"PK\x01\x02", 24), (b"PK\x03\x04", 22)] {
            let at = bytes.windows(4).position(|w| w == sig).unwrap();
            bytes[at + off..at + off + 4].copy_from_slice(&10u32.to_le_bytes());
        }
        let dir = tempfile::tempdir().unwrap();
        let r = place_extra_file(dir.path(), "liar.zip", &bytes, 100_000);
        assert!(r.is_err(), "a forged archive was unpacked");
        let written = std::fs::metadata(dir.path().join("zeros.bin")).map_or(0, |m| m.len());
        assert!(
            written <= 100_001,
            "{written} bytes written past a 100000-byte limit"
        );
    }

    #[test]
    fn entries_outside_the_directory_are_refused() {
        assert!(safe_relative("../evil").is_none());
        assert!(safe_relative("a/../../evil").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert!(safe_relative("a\\..\\b").is_none());
        assert_eq!(
            safe_relative("./data/x.csv").unwrap().to_str(),
            Some("data/x.csv")
        );
    }
}
