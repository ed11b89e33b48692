//! Python environments for jobs, built once per dependency list and reused.
//!
//! An environment lives in `<data>/venvs/<key>`, where the key hashes the
//! normalized dependency lines and the interpreter's version and path. It
//! counts as built only once the marker file `.taskwright-ready` exists: a
//! failed or interrupted build is removed and never reused. One build per
//! key runs at a time; jobs that need the same new environment wait for it.

use super::log::SystemLog;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::AsyncBufReadExt;
use tokio::process::Command;
use tokio::sync::Mutex;

const READY: &str = ".taskwright-ready";

/// Builds and finds job environments.
pub struct Environments {
    root: PathBuf,
    python: String,
    /// `uv`, when it answered `--version` at start-up.
    uv: Option<String>,
    /// Interpreter identity: `sys.version` and `sys.executable`.
    identity: String,
    /// One lock per key being built; entries stay (they are tiny).
    building: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    cache_dir: PathBuf,
}

/// The normalized dependency list: trimmed, without comments or blank lines,
/// sorted and de-duplicated, so formatting changes do not force a rebuild.
pub fn normalize(deps: &str) -> Vec<String> {
    let mut lines: Vec<String> = deps
        .lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

impl Environments {
    /// Asks the interpreter who it is and whether `uv` is there.
    pub async fn probe(data_dir: &Path, python: &str, uv: &str) -> anyhow::Result<Self> {
        let out = Command::new(python)
            .args([
                "-I",
                "-c",
                "import sys; print(sys.version); print(sys.executable)",
            ])
            .output()
            .await
            .map_err(|e| anyhow::anyhow!("cannot start the Python interpreter {python:?}: {e}"))?;
        if !out.status.success() {
            anyhow::bail!(
                "the Python interpreter {python:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let identity = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let uv_ok = Command::new(uv)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success());
        if !uv_ok {
            tracing::warn!(
                uv,
                "uv not found: Python environments are built with venv and pip (slower)"
            );
        }
        Ok(Environments {
            root: data_dir.join("venvs"),
            python: python.to_string(),
            uv: uv_ok.then(|| uv.to_string()),
            identity,
            building: Mutex::new(HashMap::new()),
            cache_dir: data_dir.join("cache"),
        })
    }

    pub fn key(&self, deps: &[String]) -> String {
        let mut h = Sha256::new();
        h.update(self.identity.as_bytes());
        for d in deps {
            h.update(b"\n");
            h.update(d.as_bytes());
        }
        hex::encode(&h.finalize()[..16])
    }

    /// The environment's directory, built first when needed. Installer
    /// output goes to the job's log. On failure the error says what to fix
    /// and the directory is gone.
    pub async fn ensure(&self, deps_text: &str, log: &SystemLog) -> Result<PathBuf, String> {
        let deps = normalize(deps_text);
        let key = self.key(&deps);
        let dir = self.root.join(&key);
        if dir.join(READY).exists() {
            return Ok(dir);
        }
        let lock = self
            .building
            .lock()
            .await
            .entry(key.clone())
            .or_default()
            .clone();
        let _guard = match lock.try_lock() {
            Ok(g) => g,
            Err(_) => {
                log.line("waiting for another job that is building the same Python environment")
                    .await;
                lock.lock().await
            }
        };
        if dir.join(READY).exists() {
            return Ok(dir);
        }
        let _ = tokio::fs::remove_dir_all(&dir).await;
        match self.build(&dir, &deps, log).await {
            Ok(()) => {
                tokio::fs::write(dir.join(READY), self.identity.as_bytes())
                    .await
                    .map_err(|e| format!("cannot finish the Python environment: {e}"))?;
                Ok(dir)
            }
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&dir).await;
                Err(e)
            }
        }
    }

    async fn build(&self, dir: &Path, deps: &[String], log: &SystemLog) -> Result<(), String> {
        let started = std::time::Instant::now();
        let dir_s = dir.to_string_lossy().to_string();
        let python_in_env = dir.join("bin/python").to_string_lossy().to_string();
        match &self.uv {
            Some(uv) => {
                self.step(
                    log,
                    "creating the Python environment",
                    uv,
                    &["venv", "--quiet", "--python", &self.python, &dir_s],
                )
                .await?;
            }
            None => {
                self.step(
                    log,
                    "creating the Python environment",
                    &self.python,
                    &["-m", "venv", &dir_s],
                )
                .await?;
            }
        }
        if !deps.is_empty() {
            let req = dir.join("requirements.txt");
            tokio::fs::write(&req, deps.join("\n") + "\n")
                .await
                .map_err(|e| format!("cannot write requirements.txt: {e}"))?;
            let req_s = req.to_string_lossy().to_string();
            log.line(format!("installing dependencies: {}", deps.join(", ")))
                .await;
            match &self.uv {
                Some(uv) => {
                    self.step(
                        log,
                        "installing dependencies",
                        uv,
                        &["pip", "install", "--python", &python_in_env, "-r", &req_s],
                    )
                    .await?;
                }
                None => {
                    self.step(
                        log,
                        "installing dependencies",
                        &python_in_env,
                        &[
                            "-m",
                            "pip",
                            "install",
                            "--disable-pip-version-check",
                            "-r",
                            &req_s,
                        ],
                    )
                    .await?;
                }
            }
        }
        log.line(format!(
            "Python environment ready in {} ms",
            started.elapsed().as_millis()
        ))
        .await;
        Ok(())
    }

    /// Runs one installer command, its output going to the log line by line.
    async fn step(
        &self,
        log: &SystemLog,
        what: &str,
        program: &str,
        args: &[&str],
    ) -> Result<(), String> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(installer_env(&self.cache_dir))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("{what} failed: cannot start {program:?}: {e}"))?;
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let last = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let copy = |r: Box<dyn tokio::io::AsyncRead + Unpin + Send>| {
            let log = log.clone();
            let last = last.clone();
            async move {
                let mut lines = tokio::io::BufReader::new(r).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    {
                        let mut v = last.lock().unwrap();
                        v.push(l.clone());
                        if v.len() > 5 {
                            v.remove(0);
                        }
                    }
                    log.line(l).await;
                }
            }
        };
        let (_, _, status) = tokio::join!(copy(Box::new(out)), copy(Box::new(err)), child.wait());
        let status = status.map_err(|e| format!("{what} failed: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            let tail = last.lock().unwrap().join("\n");
            Err(format!("{what} failed ({status}): {tail}"))
        }
    }
}

/// The installer's environment: what it needs to reach a package index
/// (proxies, certificates, index settings) and nothing else of the server's.
fn installer_env(cache_dir: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "PATH" | "HOME" | "LANG" | "SSL_CERT_FILE" | "SSL_CERT_DIR"
            ) || k.to_ascii_lowercase().ends_with("_proxy")
                || k.starts_with("PIP_INDEX")
                || k.starts_with("PIP_EXTRA_INDEX")
                || k.starts_with("UV_INDEX")
                || k.starts_with("UV_DEFAULT_INDEX")
                || k == "UV_PYTHON_PREFERENCE"
        })
        .collect();
    env.push((
        "UV_CACHE_DIR".into(),
        cache_dir.join("uv").to_string_lossy().into(),
    ));
    env.push((
        "PIP_CACHE_DIR".into(),
        cache_dir.join("pip").to_string_lossy().into(),
    ));
    env.push(("UV_LINK_MODE".into(), "hardlink".into()));
    // Never fetch an interpreter: use the configured one.
    env.push(("UV_PYTHON_DOWNLOADS".into(), "never".into()));
    env
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn formatting_does_not_change_the_dependency_list() {
        assert_eq!(
            normalize("requests==2.32.3\n\n# http\nsix  # old\nrequests==2.32.3\n"),
            vec!["requests==2.32.3".to_string(), "six".to_string()]
        );
        assert!(normalize("  \n# nothing\n").is_empty());
    }
}
