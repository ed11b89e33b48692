//! Writing a script's extra file into a job's working directory, unpacking
//! ZIP archives without letting any entry escape the directory.

use std::io::{Cursor, Read};
use std::path::{Component, Path, PathBuf};

/// Writes `bytes` as `dir/<name>` and, for a `.zip`, unpacks it into `dir`.
/// Refuses (naming the entry) any entry that is absolute, climbs with `..`
/// or is a symbolic link; nothing is written outside `dir`. Blocking: call
/// from `spawn_blocking`.
pub fn place_extra_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<usize, String> {
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
    unzip(dir, file_name, bytes)
}

fn unzip(dir: &Path, file_name: &str, bytes: &[u8]) -> Result<usize, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("the extra file {file_name:?} is not a readable ZIP archive: {e}"))?;

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
        plan.push((i, rel, entry.is_dir()));
    }

    let mut files = 0;
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
        let mut out = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut out)
            .map_err(|e| format!("cannot unpack {}: {e}", rel.display()))?;
        std::fs::write(&target, out).map_err(|e| format!("cannot write {}: {e}", rel.display()))?;
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
    use super::safe_relative;

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
