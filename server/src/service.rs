//! Operations with their authorization, shared by the REST API, the UI's
//! server functions and GraphQL, so all of them allow exactly the same.
//! Each function checks the caller's role first, then validates, then acts.

use crate::auth::{hash_password, Caller};
use crate::engine::Submit;
use crate::error::{Error, Result};
use crate::scheduler::Schedule;
use crate::state::AppState;
use app::model::*;

pub async fn health(s: &AppState) -> Health {
    let (database, (waiting, running)) = match s.engine.store().count_status().await {
        Ok(c) => ("ok".to_string(), c),
        Err(e) => (format!("error: {e}"), (0, 0)),
    };
    Health {
        status: if database == "ok" {
            "ok".into()
        } else {
            "degraded".into()
        },
        version: env!("CARGO_PKG_VERSION").into(),
        database,
        waiting,
        running,
    }
}

pub async fn run(
    s: &AppState,
    c: &Caller,
    name: &str,
    params: Option<String>,
    trigger: Trigger,
) -> Result<String> {
    c.require(Role::Runner, "running a script")?;
    s.engine
        .submit(Submit {
            script: name.to_string(),
            parameters: params,
            user: Some(c.username.clone()),
            trigger,
        })
        .await
}

pub async fn job(s: &AppState, c: &Caller, id: &str) -> Result<Job> {
    c.require(Role::Viewer, "reading a task")?;
    s.engine.get(id).await
}

pub async fn jobs(s: &AppState, c: &Caller, f: &JobFilter) -> Result<JobPage> {
    c.require(Role::Viewer, "listing tasks")?;
    if !(1..=1000).contains(&f.limit) {
        return Err(Error::invalid(
            "limit",
            format!("limit must be 1 to 1000, not {}", f.limit),
        ));
    }
    if f.offset < 0 {
        return Err(Error::invalid("offset", "offset cannot be negative"));
    }
    s.engine.store().list_jobs(f).await
}

pub async fn cancel(s: &AppState, c: &Caller, id: &str) -> Result<Job> {
    c.require(Role::Runner, "cancelling a task")?;
    s.engine.cancel(id).await?;
    s.engine.get(id).await
}

pub async fn delete_job(s: &AppState, c: &Caller, id: &str) -> Result<()> {
    c.require(Role::Admin, "deleting a task")?;
    s.engine.delete(id).await
}

pub async fn clear(s: &AppState, c: &Caller) -> Result<usize> {
    c.require(Role::Admin, "clearing tasks")?;
    s.engine.clear_finished().await
}

pub async fn scripts(s: &AppState, c: &Caller) -> Result<Vec<Script>> {
    c.require(Role::Viewer, "listing scripts")?;
    s.engine.store().list_scripts().await
}

pub async fn script(s: &AppState, c: &Caller, name: &str) -> Result<Script> {
    c.require(Role::Viewer, "reading a script")?;
    s.engine
        .store()
        .get_script(name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("there is no script named {name:?}")))
}

/// Checks every field; all problems are reported at once.
pub fn validate(s: &AppState, script: &mut Script) -> Result<()> {
    let mut errors = Vec::new();
    if let Err(e) = validate_script_name(&script.name) {
        errors.push(e);
    }
    if script.script.trim().is_empty() {
        errors.push(FieldError {
            field: "script".into(),
            message: "the script is empty: there would be nothing to run".into(),
        });
    }
    let blank = |v: &mut Option<String>| {
        if v.as_deref().is_some_and(|x| x.trim().is_empty()) {
            *v = None;
        }
    };
    blank(&mut script.dependencies);
    blank(&mut script.output_file_extension);
    blank(&mut script.failure_address);
    blank(&mut script.cron);
    blank(&mut script.time_zone);
    if let Some(ext) = &script.output_file_extension {
        if let Err(e) = validate_extension(ext) {
            errors.push(e);
        }
    }
    if let Some(addr) = &script.failure_address {
        if let Err(e) = validate_email(addr.trim()) {
            errors.push(e);
        }
    }
    if script.script_type == ScriptType::Bash && script.dependencies.is_some() {
        errors.push(FieldError {
            field: "dependencies".into(),
            message: "dependencies are installed for python scripts only; leave it empty for bash"
                .into(),
        });
    }
    if let Some(tz) = &script.time_zone {
        if tz.parse::<chrono_tz::Tz>().is_err() {
            errors.push(FieldError {
                field: "timeZone".into(),
                message: format!("{tz:?} is not an IANA time zone name (like Europe/Amsterdam)"),
            });
        }
    }
    if let Some(cron) = &script.cron {
        if let Err(message) = s.scheduler.validate(cron) {
            errors.push(FieldError {
                field: "cron".into(),
                message,
            });
        }
    }
    if script.timeout_seconds == Some(0) {
        errors.push(FieldError {
            field: "timeoutSeconds".into(),
            message: "a timeout must be at least 1 second; leave it empty for none".into(),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

/// Creates or replaces a script; returns whether it was created. The
/// schedule follows at once.
pub async fn save_script(s: &AppState, c: &Caller, mut script: Script) -> Result<bool> {
    c.require(Role::Admin, "saving a script")?;
    validate(s, &mut script)?;
    let created = s.engine.store().save_script(&script, &c.username).await?;
    s.scheduler.reload(&script.name).await;
    Ok(created)
}

pub async fn delete_script(s: &AppState, c: &Caller, name: &str) -> Result<()> {
    c.require(Role::Admin, "deleting a script")?;
    if !s.engine.store().delete_script(name).await? {
        return Err(Error::NotFound(format!(
            "there is no script named {name:?}"
        )));
    }
    s.scheduler.reload(name).await;
    Ok(())
}

pub async fn set_extra_file(
    s: &AppState,
    c: &Caller,
    name: &str,
    file: Option<(&str, &[u8])>,
) -> Result<()> {
    c.require(Role::Admin, "changing a script's extra file")?;
    if let Some((fname, _)) = file {
        let base = std::path::Path::new(fname)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        if base.is_empty() || base != fname || fname.starts_with('.') {
            return Err(Error::invalid(
                "extraFile",
                format!("{fname:?} is not a plain file name"),
            ));
        }
        if let Some(c) = fname.chars().find(|c| c.is_control()) {
            return Err(Error::invalid(
                "extraFile",
                format!("the file name {fname:?} contains the control character {c:?}"),
            ));
        }
        if fname.len() > 255 {
            return Err(Error::invalid(
                "extraFile",
                format!(
                    "the file name is {} bytes long; at most 255 are allowed",
                    fname.len()
                ),
            ));
        }
    }
    if !s.engine.store().set_extra_file(name, file).await? {
        return Err(Error::NotFound(format!(
            "there is no script named {name:?}"
        )));
    }
    Ok(())
}

pub async fn create_user(
    s: &AppState,
    c: &Caller,
    username: &str,
    password: &str,
    role: Role,
) -> Result<()> {
    c.require(Role::Admin, "creating users")?;
    if username.is_empty()
        || username.len() > 64
        || username
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control())
    {
        return Err(Error::invalid(
            "username",
            "a user name has 1 to 64 characters and no spaces",
        ));
    }
    if password.chars().count() < 8 {
        return Err(Error::invalid(
            "password",
            "a password needs at least 8 characters",
        ));
    }
    let hash = hash_password(password.to_string()).await?;
    s.engine.store().create_user(username, &hash, role).await?;
    Ok(())
}

/// The next `n` fire times of `expr` in `time_zone` (the server's default
/// zone when absent), as RFC 3339 strings in that zone; the error says what
/// is wrong with the expression or the zone. Used by the script form's live
/// preview; the times come from the scheduler's own [`Schedule`].
pub fn cron_preview(
    s: &AppState,
    c: &Caller,
    expr: &str,
    time_zone: Option<&str>,
    n: usize,
) -> Result<std::result::Result<Vec<String>, String>> {
    c.require(Role::Viewer, "previewing a schedule")?;
    let tz: chrono_tz::Tz = match time_zone.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => match t.parse() {
            Ok(tz) => tz,
            Err(_) => return Ok(Err(format!("{t:?} is not an IANA time zone name"))),
        },
        None => s.cfg.time_zone.parse().unwrap_or(chrono_tz::UTC),
    };
    Ok(Schedule::parse(expr, tz).map(|schedule| {
        schedule
            .upcoming(chrono::Utc::now(), n)
            .into_iter()
            .map(|t| t.with_timezone(&tz).to_rfc3339())
            .collect()
    }))
}

/// Every script with its next fire time and latest job, for the scripts table.
pub async fn script_rows(s: &AppState, c: &Caller) -> Result<Vec<ScriptRow>> {
    let scripts = scripts(s, c).await?;
    let mut rows = Vec::with_capacity(scripts.len());
    for script in scripts {
        let next_run = match &script.cron {
            Some(expr) if !script.disabled => {
                cron_preview(s, c, expr, script.time_zone.as_deref(), 1)?
                    .ok()
                    .and_then(|v| v.into_iter().next())
            }
            _ => None,
        };
        let last_job = s.engine.store().latest_job_of(&script.name, false).await?;
        rows.push(ScriptRow {
            script,
            next_run,
            last_job,
        });
    }
    Ok(rows)
}

pub async fn list_users(s: &AppState, c: &Caller) -> Result<Vec<UserInfo>> {
    c.require(Role::Admin, "listing users")?;
    Ok(s.engine
        .store()
        .list_users()
        .await?
        .into_iter()
        .map(|u| UserInfo {
            role: Role::parse(&u.role).unwrap_or(Role::Viewer),
            username: u.username,
            created_ms: u.created_ms,
        })
        .collect())
}

pub async fn list_tokens(s: &AppState, c: &Caller) -> Result<Vec<ApiToken>> {
    c.require(Role::Admin, "listing tokens")?;
    Ok(s.engine
        .store()
        .list_tokens(None)
        .await?
        .into_iter()
        .map(|t| ApiToken {
            id: t.id,
            username: t.username,
            name: t.name,
            created_ms: t.created_ms,
            last_used_ms: t.last_used_ms,
        })
        .collect())
}

/// Creates an API token for `username`; the answer is the only copy of it.
pub async fn create_token(
    s: &AppState,
    c: &Caller,
    username: &str,
    name: &str,
) -> Result<IssuedToken> {
    c.require(Role::Admin, "creating tokens")?;
    let name = match name.trim() {
        "" => "api token",
        n => n,
    };
    let (id, token) = s.auth.create_token(username, name).await?;
    Ok(IssuedToken { id, token })
}

pub async fn revoke_token(s: &AppState, c: &Caller, id: i64) -> Result<()> {
    c.require(Role::Admin, "revoking tokens")?;
    if !s.engine.store().revoke_token(id).await? {
        return Err(Error::NotFound(format!(
            "there is no API token with id {id}"
        )));
    }
    Ok(())
}
