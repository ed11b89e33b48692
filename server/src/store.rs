//! Every SQL statement Taskwright runs. Values are always bound, never
//! formatted into the SQL text.
//!
//! The store owns no state beyond its two pools; the engine decides *when*
//! rows change, the store only makes each change atomic. Status changes are
//! guarded in SQL (`WHERE status = 'RUNNING'`), so a finished job can never
//! change status again, whoever calls.

use crate::db::now_ms;
use crate::error::{Error, Result};
use app::model::*;
// Dynamic SQL below only joins the constant column lists into literal
// statements; every value is bound.
use sqlx::{AssertSqlSafe, FromRow, SqlitePool};

/// Reads go to `pool`, a few connections that read in parallel under WAL.
/// Every statement that writes goes to `writer`, a pool of exactly one
/// connection: SQLite allows one writer at a time, and queueing writers in
/// the pool (an async wait) is much cheaper than letting several
/// connections collide and back off in SQLite's busy handler (sleeps of 1
/// to 100 ms). Both are created by [`crate::db::connect`] and closed by
/// [`Store::close`] at shutdown.
#[derive(Clone)]
pub struct Store {
    pub pool: SqlitePool,
    pub writer: SqlitePool,
}

#[derive(FromRow)]
struct ScriptRow {
    name: String,
    #[sqlx(rename = "type")]
    script_type: String,
    script: String,
    dependencies: Option<String>,
    extra_file_name: Option<String>,
    extra_file_size: Option<i64>,
    output_file_extension: Option<String>,
    disabled: bool,
    failure_address: Option<String>,
    cron: Option<String>,
    time_zone: Option<String>,
    allow_overlap: bool,
    timeout_seconds: Option<i64>,
    saved_by: Option<String>,
    created_ms: i64,
    updated_ms: i64,
}

impl From<ScriptRow> for Script {
    fn from(r: ScriptRow) -> Self {
        Script {
            name: r.name,
            script_type: ScriptType::parse(&r.script_type).unwrap_or(ScriptType::Bash),
            script: r.script,
            dependencies: r.dependencies,
            output_file_extension: r.output_file_extension,
            disabled: r.disabled,
            failure_address: r.failure_address,
            cron: r.cron,
            time_zone: r.time_zone,
            allow_overlap: r.allow_overlap,
            timeout_seconds: r.timeout_seconds.map(|t| t as u32),
            extra_file: r.extra_file_name.map(|name| ExtraFileInfo {
                name,
                size: r.extra_file_size.unwrap_or(0) as u64,
            }),
            saved_by: r.saved_by,
            created_ms: r.created_ms,
            updated_ms: r.updated_ms,
        }
    }
}

const SCRIPT_COLUMNS: &str = "name, type, script, dependencies, extra_file_name, \
     length(extra_file) AS extra_file_size, output_file_extension, disabled, failure_address, \
     cron, time_zone, allow_overlap, timeout_seconds, saved_by, created_ms, updated_ms";

#[derive(FromRow)]
struct JobRow {
    id: String,
    script_name: String,
    status: String,
    parameters: Option<String>,
    submit_user: Option<String>,
    trigger: String,
    submitted_ms: i64,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    duration_ms: Option<i64>,
    exit_code: Option<i64>,
    error: Option<String>,
    output_name: Option<String>,
    output_size: Option<i64>,
    output_content_type: Option<String>,
    log_omitted_bytes: i64,
    mail_status: Option<String>,
    mail_error: Option<String>,
}

impl From<JobRow> for Job {
    fn from(r: JobRow) -> Self {
        Job {
            id: r.id,
            script: r.script_name,
            status: JobStatus::parse(&r.status).unwrap_or(JobStatus::Error),
            parameters: r.parameters,
            submit_user: r.submit_user,
            trigger: Trigger::parse(&r.trigger).unwrap_or(Trigger::Api),
            submitted_ms: r.submitted_ms,
            started_ms: r.started_ms,
            finished_ms: r.finished_ms,
            duration_ms: r.duration_ms,
            exit_code: r.exit_code.map(|c| c as i32),
            error: r.error,
            output: r.output_name.map(|filename| OutputInfo {
                filename,
                size: r.output_size.unwrap_or(0) as u64,
                content_type: r
                    .output_content_type
                    .unwrap_or_else(|| "application/octet-stream".into()),
            }),
            log_omitted_bytes: r.log_omitted_bytes,
            mail_status: r.mail_status,
            mail_error: r.mail_error,
        }
    }
}

const JOB_COLUMNS: &str = "id, script_name, status, parameters, submit_user, trigger, \
     submitted_ms, started_ms, finished_ms, duration_ms, exit_code, error, output_name, \
     output_size, output_content_type, log_omitted_bytes, mail_status, mail_error";

/// A job about to be queued.
pub struct NewJob<'a> {
    pub id: &'a str,
    pub script: &'a str,
    pub status: JobStatus,
    pub parameters: Option<&'a str>,
    pub submit_user: Option<&'a str>,
    pub trigger: Trigger,
    pub error: Option<&'a str>,
}

/// How a running job ended.
pub struct Finish<'a> {
    pub status: JobStatus,
    pub exit_code: Option<i32>,
    pub error: Option<&'a str>,
    pub output: Option<&'a OutputInfo>,
}

/// A user with their credentials hash.
#[derive(FromRow, Clone, Debug)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub created_ms: i64,
}

/// What a token or session resolves to.
#[derive(FromRow, Clone, Debug)]
pub struct TokenOwner {
    pub user_id: i64,
    pub username: String,
    pub role: String,
    pub job_id: Option<String>,
    /// The token's row and when it was last recorded as used (tokens only).
    #[sqlx(default)]
    pub token_id: Option<i64>,
    #[sqlx(default)]
    pub last_used_ms: Option<i64>,
}

#[derive(FromRow, Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
}

/// A log line on its way to the database.
pub struct PendingLine {
    pub n: i64,
    pub stream: LogStream,
    pub time_ms: i64,
    pub off: i64,
    pub text: String,
}

impl Store {
    pub fn new(pools: crate::db::Pools) -> Self {
        Store {
            pool: pools.read,
            writer: pools.write,
        }
    }

    /// Closes both pools, waiting for statements in flight.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    // --- scripts -------------------------------------------------------

    pub async fn get_script(&self, name: &str) -> Result<Option<Script>> {
        let sql = format!("SELECT {SCRIPT_COLUMNS} FROM scripts WHERE name = ?");
        let row: Option<ScriptRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    pub async fn list_scripts(&self) -> Result<Vec<Script>> {
        let sql = format!("SELECT {SCRIPT_COLUMNS} FROM scripts ORDER BY name");
        let rows: Vec<ScriptRow> = sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Creates or replaces a script, keeping its extra file. Returns whether
    /// it was created.
    pub async fn save_script(&self, s: &Script, saved_by: &str) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.writer.begin().await?;
        let existed: Option<i64> = sqlx::query_scalar("SELECT 1 FROM scripts WHERE name = ?")
            .bind(&s.name)
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO scripts (name, type, script, dependencies, output_file_extension, \
             disabled, failure_address, cron, time_zone, allow_overlap, timeout_seconds, saved_by, \
             created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET type = excluded.type, script = excluded.script, \
             dependencies = excluded.dependencies, \
             output_file_extension = excluded.output_file_extension, \
             disabled = excluded.disabled, failure_address = excluded.failure_address, \
             cron = excluded.cron, time_zone = excluded.time_zone, \
             allow_overlap = excluded.allow_overlap, timeout_seconds = excluded.timeout_seconds, \
             saved_by = excluded.saved_by, updated_ms = excluded.updated_ms",
        )
        .bind(&s.name)
        .bind(s.script_type.as_str())
        .bind(&s.script)
        .bind(&s.dependencies)
        .bind(&s.output_file_extension)
        .bind(s.disabled)
        .bind(&s.failure_address)
        .bind(&s.cron)
        .bind(&s.time_zone)
        .bind(s.allow_overlap)
        .bind(s.timeout_seconds.map(i64::from))
        .bind(saved_by)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(existed.is_none())
    }

    pub async fn delete_script(&self, name: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM scripts WHERE name = ?")
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn set_extra_file(&self, name: &str, file: Option<(&str, &[u8])>) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE scripts SET extra_file_name = ?, extra_file = ?, updated_ms = ? WHERE name = ?",
        )
        .bind(file.map(|f| f.0))
        .bind(file.map(|f| f.1))
        .bind(now_ms())
        .bind(name)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn extra_file(&self, name: &str) -> Result<Option<(String, Vec<u8>)>> {
        let row: Option<(Option<String>, Option<Vec<u8>>)> =
            sqlx::query_as("SELECT extra_file_name, extra_file FROM scripts WHERE name = ?")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some((Some(n), Some(b))) => Some((n, b)),
            _ => None,
        })
    }

    // --- jobs ------------------------------------------------------------

    pub async fn insert_job(&self, j: &NewJob<'_>) -> Result<()> {
        let now = now_ms();
        let finished = j.status.is_finished().then_some(now);
        sqlx::query(
            "INSERT INTO jobs (id, script_name, status, parameters, submit_user, trigger, \
             submitted_ms, finished_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(j.id)
        .bind(j.script)
        .bind(j.status.as_str())
        .bind(j.parameters)
        .bind(j.submit_user)
        .bind(j.trigger.as_str())
        .bind(now)
        .bind(finished)
        .bind(j.error)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Moves the oldest waiting job to `RUNNING` and returns it, atomically:
    /// a job cancelled meanwhile is no longer `WAITING` and is never claimed.
    pub async fn claim_next(&self) -> Result<Option<Job>> {
        let sql = format!(
            "UPDATE jobs SET status = 'RUNNING', started_ms = ? WHERE seq = \
             (SELECT seq FROM jobs WHERE status = 'WAITING' ORDER BY seq LIMIT 1) \
             AND status = 'WAITING' RETURNING {JOB_COLUMNS}"
        );
        let row: Option<JobRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(now_ms())
            .fetch_optional(&self.writer)
            .await?;
        Ok(row.map(Into::into))
    }

    /// Ends a running job and revokes its job token, in one transaction.
    /// Returns the finished job, or None when it was not running any more.
    pub async fn finish_job(&self, id: &str, f: &Finish<'_>) -> Result<Option<Job>> {
        let now = now_ms();
        let sql = format!(
            "UPDATE jobs SET status = ?, finished_ms = ?, \
             duration_ms = ? - COALESCE(started_ms, submitted_ms), exit_code = ?, error = ?, \
             output_name = ?, output_size = ?, output_content_type = ?, pid = NULL \
             WHERE id = ? AND status = 'RUNNING' RETURNING {JOB_COLUMNS}"
        );
        let mut tx = self.writer.begin().await?;
        let row: Option<JobRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(f.status.as_str())
            .bind(now)
            .bind(now)
            .bind(f.exit_code)
            .bind(f.error)
            .bind(f.output.map(|o| o.filename.as_str()))
            .bind(f.output.map(|o| o.size as i64))
            .bind(f.output.map(|o| o.content_type.as_str()))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tokens WHERE job_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.map(Into::into))
    }

    /// Cancels a job that has not started. Returns false when it was not waiting.
    pub async fn cancel_waiting(&self, id: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET status = 'CANCELLED', finished_ms = ?, error = 'cancelled before it \
             started' WHERE id = ? AND status = 'WAITING'",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?");
        let row: Option<JobRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    /// Newest first.
    pub async fn list_jobs(&self, f: &JobFilter) -> Result<JobPage> {
        let status = f.status.map(|s| s.as_str());
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE (?1 IS NULL OR script_name = ?1) \
             AND (?2 IS NULL OR status = ?2) ORDER BY seq DESC LIMIT ?3 OFFSET ?4"
        );
        let rows: Vec<JobRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(&f.script)
            .bind(status)
            .bind(f.limit)
            .bind(f.offset)
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE (?1 IS NULL OR script_name = ?1) \
             AND (?2 IS NULL OR status = ?2)",
        )
        .bind(&f.script)
        .bind(status)
        .fetch_one(&self.pool)
        .await?;
        Ok(JobPage {
            jobs: rows.into_iter().map(Into::into).collect(),
            total,
        })
    }

    /// The newest job of a script in one of the given states.
    pub async fn latest_job_of(&self, script: &str, running_only: bool) -> Result<Option<Job>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE script_name = ? AND (? = 0 OR status IN \
             ('WAITING', 'RUNNING')) AND status != 'SKIPPED' ORDER BY seq DESC LIMIT 1"
        );
        let row: Option<JobRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(script)
            .bind(running_only)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    pub async fn count_status(&self) -> Result<(i64, i64)> {
        let (w, r): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM jobs WHERE status = 'WAITING'), \
             (SELECT count(*) FROM jobs WHERE status = 'RUNNING')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((w, r))
    }

    /// Deletes a finished job. Returns its status before deletion, or None if
    /// there was no such job; a job not finished is left alone.
    pub async fn delete_finished_job(&self, id: &str) -> Result<Option<JobStatus>> {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(status) = status.and_then(|s| JobStatus::parse(&s)) else {
            return Ok(None);
        };
        if status.is_finished() {
            sqlx::query("DELETE FROM jobs WHERE id = ? AND status NOT IN ('WAITING', 'RUNNING')")
                .bind(id)
                .execute(&self.writer)
                .await?;
        }
        Ok(Some(status))
    }

    /// Deletes finished jobs matching the condition; returns their ids.
    async fn delete_finished_where(&self, cond: &str, arg: i64) -> Result<Vec<String>> {
        let sql = format!(
            "DELETE FROM jobs WHERE status NOT IN ('WAITING', 'RUNNING') AND ({cond}) RETURNING id"
        );
        let ids: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(arg)
            .fetch_all(&self.writer)
            .await?;
        Ok(ids)
    }

    pub async fn clear_finished(&self) -> Result<Vec<String>> {
        self.delete_finished_where("?1 = ?1", 0).await
    }

    pub async fn delete_finished_before(&self, cutoff_ms: i64) -> Result<Vec<String>> {
        self.delete_finished_where("finished_ms < ?1", cutoff_ms)
            .await
    }

    /// Keeps the newest `keep` finished jobs.
    pub async fn delete_finished_beyond(&self, keep: i64) -> Result<Vec<String>> {
        self.delete_finished_where(
            "seq <= (SELECT seq FROM jobs WHERE status NOT IN ('WAITING', 'RUNNING') \
             ORDER BY seq DESC LIMIT 1 OFFSET ?1)",
            keep,
        )
        .await
    }

    /// Jobs left `RUNNING` by a previous process, with their process ids.
    pub async fn running_jobs(&self) -> Result<Vec<(String, Option<i64>)>> {
        Ok(
            sqlx::query_as("SELECT id, pid FROM jobs WHERE status = 'RUNNING'")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn set_mail_outcome(
        &self,
        id: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE jobs SET mail_status = ?, mail_error = ? WHERE id = ?")
            .bind(status)
            .bind(error)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    // --- logs ------------------------------------------------------------

    /// Writes a batch of log lines, drops the stored lines in `(drop_after,
    /// drop_upto]` (the middle of an oversized log) and updates the counters,
    /// in one transaction.
    pub async fn write_log(
        &self,
        job_id: &str,
        lines: &[PendingLine],
        drop_range: Option<(i64, i64)>,
        total_bytes: i64,
        omitted_bytes: i64,
        total_lines: i64,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        if let Some((after, upto)) = drop_range {
            sqlx::query("DELETE FROM job_log WHERE job_id = ? AND n > ? AND n <= ?")
                .bind(job_id)
                .bind(after)
                .bind(upto)
                .execute(&mut *tx)
                .await?;
        }
        // Multi-row inserts: far fewer statements for chatty scripts.
        for chunk in lines.chunks(150) {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT OR REPLACE INTO job_log (job_id, n, stream, time_ms, off, text) ",
            );
            qb.push_values(chunk, |mut b, l| {
                b.push_bind(job_id)
                    .push_bind(l.n)
                    .push_bind(l.stream.as_str())
                    .push_bind(l.time_ms)
                    .push_bind(l.off)
                    .push_bind(&l.text);
            });
            qb.build().execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE jobs SET log_bytes = ?, log_omitted_bytes = ?, log_lines = ? WHERE id = ?",
        )
        .bind(total_bytes)
        .bind(omitted_bytes)
        .bind(total_lines)
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stored log lines from byte offset `from_off` on (all when 0).
    pub async fn log_lines_from(&self, job_id: &str, from_off: i64) -> Result<Vec<(LogLine, i64)>> {
        let rows: Vec<(i64, String, i64, i64, String)> = sqlx::query_as(
            "SELECT n, stream, time_ms, off, text FROM job_log WHERE job_id = ? \
             AND off + length(CAST(text AS BLOB)) + 1 > ? ORDER BY n",
        )
        .bind(job_id)
        .bind(from_off)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(to_line).collect())
    }

    /// The newest `count` stored lines, oldest first.
    pub async fn log_tail(&self, job_id: &str, count: i64) -> Result<Vec<LogLine>> {
        let rows: Vec<(i64, String, i64, i64, String)> = sqlx::query_as(
            "SELECT * FROM (SELECT n, stream, time_ms, off, text FROM job_log WHERE job_id = ? \
             ORDER BY n DESC LIMIT ?) ORDER BY n",
        )
        .bind(job_id)
        .bind(count)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| to_line(r).0).collect())
    }

    // --- users, sessions, tokens -------------------------------------------

    pub async fn count_users(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn create_user(&self, username: &str, hash: &str, role: Role) -> Result<i64> {
        let r = sqlx::query(
            "INSERT INTO users (username, password_hash, role, created_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(username)
        .bind(hash)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(&self.writer)
        .await;
        match r {
            Ok(r) => Ok(r.last_insert_rowid()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::Conflict(
                format!("the user {username:?} already exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Changes a user's password and/or role, in one transaction. A new
    /// password ends the user's sessions (whoever knew the old one is
    /// signed out). The last admin cannot stop being one: nobody could
    /// manage users afterwards. Returns false when there is no such user.
    pub async fn update_user(
        &self,
        username: &str,
        hash: Option<&str>,
        role: Option<Role>,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let Some((id, current)) =
            sqlx::query_as::<_, (i64, String)>("SELECT id, role FROM users WHERE username = ?")
                .bind(username)
                .fetch_optional(&mut *tx)
                .await?
        else {
            return Ok(false);
        };
        if current == Role::Admin.as_str() && role.is_some_and(|r| r != Role::Admin) {
            Self::keep_an_admin(&mut tx, username).await?;
        }
        sqlx::query(
            "UPDATE users SET password_hash = COALESCE(?, password_hash), \
             role = COALESCE(?, role) WHERE id = ?",
        )
        .bind(hash)
        .bind(role.map(|r| r.as_str()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if hash.is_some() {
            sqlx::query("DELETE FROM sessions WHERE user_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a user, unless it is the last admin. False when there is none.
    pub async fn delete_user(&self, username: &str) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
        match role {
            None => return Ok(false),
            Some(r) if r == Role::Admin.as_str() => Self::keep_an_admin(&mut tx, username).await?,
            Some(_) => {}
        }
        sqlx::query("DELETE FROM users WHERE username = ?")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Refuses a change that would leave no admin: `username` is one.
    async fn keep_an_admin(
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        username: &str,
    ) -> Result<()> {
        let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE role = 'admin'")
            .fetch_one(&mut **tx)
            .await?;
        if admins <= 1 {
            return Err(Error::Conflict(format!(
                "{username:?} is the only admin; make another user admin first"
            )));
        }
        Ok(())
    }

    pub async fn create_session(&self, hash: &str, user_id: i64, ttl_ms: i64) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(hash)
        .bind(user_id)
        .bind(now)
        .bind(now + ttl_ms)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn session_owner(&self, hash: &str) -> Result<Option<TokenOwner>> {
        Ok(sqlx::query_as(
            "SELECT u.id AS user_id, u.username, u.role, NULL AS job_id FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_ms > ?",
        )
        .bind(hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn delete_session(&self, hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ? OR expires_ms < ?")
            .bind(hash)
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// A token for job `job_id` acting as `username`, in one statement.
    /// False when that user no longer exists (the job then runs without one).
    pub async fn create_job_token(&self, username: &str, job_id: &str, hash: &str) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO tokens (user_id, name, token_hash, job_id, created_ms) \
             SELECT id, 'job ' || ?2, ?3, ?2, ?4 FROM users WHERE username = ?1",
        )
        .bind(username)
        .bind(job_id)
        .bind(hash)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        hash: &str,
        job_id: Option<&str>,
    ) -> Result<i64> {
        let r = sqlx::query(
            "INSERT INTO tokens (user_id, name, token_hash, job_id, created_ms) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(user_id)
        .bind(name)
        .bind(hash)
        .bind(job_id)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(r.last_insert_rowid())
    }

    /// The owner of a token. A job's token is only valid while its job runs.
    pub async fn token_owner(&self, hash: &str) -> Result<Option<TokenOwner>> {
        Ok(sqlx::query_as(
            "SELECT u.id AS user_id, u.username, u.role, t.job_id, t.id AS token_id, \
             t.last_used_ms FROM tokens t \
             JOIN users u ON u.id = t.user_id LEFT JOIN jobs j ON j.id = t.job_id \
             WHERE t.token_hash = ? AND (t.job_id IS NULL OR j.status = 'RUNNING')",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Tokens made by an admin (not job tokens), optionally of one user.
    pub async fn list_tokens(&self, username: Option<&str>) -> Result<Vec<TokenInfo>> {
        Ok(sqlx::query_as(
            "SELECT t.id, u.username, t.name, t.created_ms, t.last_used_ms FROM tokens t \
             JOIN users u ON u.id = t.user_id WHERE t.job_id IS NULL \
             AND (?1 IS NULL OR u.username = ?1) ORDER BY t.id",
        )
        .bind(username)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn touch_token(&self, id: i64, now_ms: i64) -> Result<()> {
        sqlx::query("UPDATE tokens SET last_used_ms = ? WHERE id = ?")
            .bind(now_ms)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn revoke_token(&self, id: i64) -> Result<bool> {
        let r = sqlx::query("DELETE FROM tokens WHERE id = ? AND job_id IS NULL")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// A round trip through SQLite, for the foundation's smoke test.
    pub async fn echo(&self, value: &str) -> Result<String> {
        Ok(sqlx::query_scalar("SELECT ?")
            .bind(value)
            .fetch_one(&self.pool)
            .await?)
    }
}

fn to_line((n, stream, time_ms, off, text): (i64, String, i64, i64, String)) -> (LogLine, i64) {
    (
        LogLine {
            n,
            stream: LogStream::parse(&stream).unwrap_or(LogStream::Stdout),
            time_ms,
            text,
        },
        off,
    )
}
