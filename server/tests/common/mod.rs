//! A real Taskwright server for integration tests: the full router on a free
//! port of 127.0.0.1, a fresh data directory and SQLite file, real bash and
//! python3. Each test gets its own.
#![allow(dead_code)] // each test file uses a different part of this

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use taskwright::config::Config;

pub const ADMIN_PASSWORD: &str = "test-admin-password";

pub struct TestServer {
    pub url: String,
    pub admin_token: String,
    pub data_dir: PathBuf,
    pub state: taskwright::state::AppState,
    pub http: reqwest::Client,
    _tmp: Option<tempfile::TempDir>,
    server: tokio::task::JoinHandle<()>,
}

/// The `uv` the tests use: `TASKWRIGHT_TEST_UV`, else the one `make test` installs.
pub fn uv_path() -> String {
    std::env::var("TASKWRIGHT_TEST_UV").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../.tools/venv/bin/uv")
            .to_string_lossy()
            .into_owned()
    })
}

/// Settings for a test server over `data_dir`.
pub fn test_config(data_dir: &Path) -> Config {
    let mut cfg = Config::for_data_dir(data_dir);
    cfg.bind = "127.0.0.1:0".parse().unwrap();
    cfg.admin_password = Some(ADMIN_PASSWORD.into());
    cfg.admin_token = Some("test-admin-token".into());
    cfg.uv = uv_path();
    cfg.kill_grace_seconds = 1;
    cfg.max_concurrent_jobs = Some(4);
    cfg.site_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site");
    cfg
}

impl TestServer {
    pub async fn start() -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_with(test_config(&dir)).await;
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server with the given settings (its data directory is not removed).
    pub async fn start_with(cfg: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind(cfg.bind).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let data_dir = cfg.data_dir.clone();
        let admin_token = cfg.admin_token.clone().unwrap_or_default();
        let built = taskwright::build(cfg, addr).await.expect("server starts");
        let state = built.state.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, built.router).await.unwrap();
        });
        TestServer {
            url: format!("http://{addr}"),
            admin_token,
            data_dir,
            state,
            http: reqwest::Client::new(),
            _tmp: None,
            server,
        }
    }

    /// Stops serving and closes the database, as a shutdown would.
    pub async fn stop(self) -> Option<tempfile::TempDir> {
        self.server.abort();
        self.state.engine.store().close().await;
        self._tmp
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.url))
            .header("x-molgenis-token", &self.admin_token)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .header("x-molgenis-token", &self.admin_token)
    }

    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .put(format!("{}{path}", self.url))
            .header("x-molgenis-token", &self.admin_token)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .delete(format!("{}{path}", self.url))
            .header("x-molgenis-token", &self.admin_token)
    }

    /// Creates or replaces a script from its JSON definition.
    pub async fn put_script(&self, name: &str, def: Value) {
        let path = format!("/api/scripts/{}", urlencode(name));
        let r = self.put(&path).json(&def).send().await.unwrap();
        assert!(
            r.status().is_success(),
            "saving {name}: {} {}",
            r.status(),
            r.text().await.unwrap()
        );
    }

    /// Starts a script and returns the job id.
    pub async fn submit(&self, name: &str, params: Option<&str>) -> String {
        let mut req = self.post(&format!("/api/scripts/{}", urlencode(name)));
        if let Some(p) = params {
            req = req.body(p.to_string());
        }
        let r = req.send().await.unwrap();
        assert!(r.status().is_success(), "running {name}: {}", r.status());
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn task(&self, id: &str) -> Value {
        self.get(&format!("/api/tasks/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits (up to `secs`) until the job has a final status; returns its JSON.
    pub async fn wait_done(&self, id: &str, secs: u64) -> Value {
        let job = self
            .state
            .engine
            .wait(id, Duration::from_secs(secs))
            .await
            .unwrap();
        assert!(
            job.status.is_finished(),
            "job {id} still {} after {secs} s",
            job.status
        );
        self.task(id).await
    }

    /// The job's whole log as text.
    pub async fn log(&self, id: &str) -> String {
        self.get(&format!("/api/tasks/{id}/log"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

pub fn urlencode(s: &str) -> String {
    s.replace('%', "%25")
        .replace(' ', "%20")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('#', "%23")
}

/// The real `taskwright` binary started as its own process over `data_dir`,
/// with the admin token `test-admin-token` and any extra variables; killed
/// when dropped. For what only a whole process shows: signals, crashes,
/// its `/proc` entries.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub url: String,
    pub http: reqwest::Client,
}

impl ServerProcess {
    pub async fn start(data_dir: &Path, env: &[(&str, &str)]) -> ServerProcess {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_taskwright"))
            .env("TASKWRIGHT_BIND", "127.0.0.1:0")
            .env("TASKWRIGHT_DATA_DIR", data_dir)
            .env("TASKWRIGHT_ADMIN_TOKEN", "test-admin-token")
            .env("TASKWRIGHT_UV", uv_path())
            .env("TASKWRIGHT_KILL_GRACE_SECONDS", "1")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the server prints its URL");
            if let Some(rest) = line.split("running at ").nth(1) {
                break rest.trim_end_matches("/apps/tasks").to_string();
            }
        };
        // Keep reading, so the server never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ServerProcess {
            child,
            url,
            http: reqwest::Client::new(),
        }
    }

    pub async fn put_script(&self, name: &str, def: Value) {
        let r = self
            .http
            .put(format!("{}/api/scripts/{}", self.url, urlencode(name)))
            .header("x-molgenis-token", "test-admin-token")
            .json(&def)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "saving {name}: {}", r.status());
    }

    /// Starts a run and returns the job id.
    pub async fn submit(&self, name: &str) -> String {
        let r: Value = self
            .http
            .post(format!("{}/api/scripts/{}", self.url, urlencode(name)))
            .header("x-molgenis-token", "test-admin-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["id"].as_str().expect("a job id").to_string()
    }

    pub fn pid(&self) -> i32 {
        self.child.id().expect("running") as i32
    }
}
