//! Script definitions: list, read, create or replace, delete, extra file.

use super::openapi::ErrorBody;
use super::{message, read_body, script_name, QueryArgs};
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::service;
use crate::state::AppState;
use app::model::Script;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

#[utoipa::path(get, path = "/api/scripts", operation_id = "list_scripts", tag = "scripts",
    responses((status = 200, body = Vec<Script>)))]
pub async fn list(State(s): State<AppState>, caller: Caller) -> Result<Json<Vec<Script>>> {
    Ok(Json(service::scripts(&s, &caller).await?))
}

#[utoipa::path(get, path = "/api/scripts/{name}/definition", operation_id = "get_script", tag = "scripts",
    params(("name" = String, Path, description = "script name")),
    responses((status = 200, body = Script), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Script>> {
    Ok(Json(
        service::script(&s, &caller, &script_name(name)).await?,
    ))
}

/// Largest script definition (JSON) accepted; data belongs in the extra file.
pub const MAX_DEFINITION_BYTES: usize = 2 * 1024 * 1024;

#[utoipa::path(put, path = "/api/scripts/{name}", operation_id = "save_script", tag = "scripts",
    params(("name" = String, Path, description = "script name")),
    request_body = Script,
    responses((status = 201, description = "created", body = Script), (status = 200, description = "replaced", body = Script),
        (status = 400, description = "a field is invalid; each error names its `field`", body = ErrorBody)))]
/// `PUT /api/scripts/{name}`: create (201) or replace (200). The path names
/// the script; a `name` in the body, when given, must agree.
pub async fn save(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Body,
) -> Result<Response> {
    let name = script_name(name);
    let body = read_body(body, MAX_DEFINITION_BYTES, "script definition").await?;
    let mut value: Value = serde_json::from_slice(&body)
        .map_err(|e| Error::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let Some(obj) = value.as_object_mut() else {
        return Err(Error::BadRequest(
            "the body must be a JSON object with the script's fields".into(),
        ));
    };
    match obj.get("name").and_then(Value::as_str) {
        Some(n) if n != name => {
            return Err(Error::invalid(
                "name",
                format!("the body names {n:?} but the URL names {name:?}"),
            ))
        }
        _ => {
            obj.insert("name".into(), Value::String(name.clone()));
        }
    }
    let script: Script = serde_json::from_value(value)
        .map_err(|e| Error::BadRequest(format!("the script definition is not valid: {e}")))?;
    let created = service::save_script(&s, &caller, script).await?;
    let saved = service::script(&s, &caller, &name).await?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(saved)).into_response())
}

#[utoipa::path(delete, path = "/api/scripts/{name}", operation_id = "delete_script", tag = "scripts",
    description = "Deletes the script and its schedule; its jobs stay.",
    params(("name" = String, Path, description = "script name")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    let name = script_name(name);
    service::delete_script(&s, &caller, &name).await?;
    Ok(message(format!("script {name:?} deleted")))
}

#[derive(Deserialize)]
pub struct FileQuery {
    filename: Option<String>,
}

#[utoipa::path(put, path = "/api/scripts/{name}/extra-file", operation_id = "put_extra_file", tag = "scripts",
    description = "Multipart (the file part's name is kept) or a raw body with `?filename=`.",
    params(("name" = String, Path, description = "script name"),
        ("filename" = Option<String>, Query, description = "file name for a raw body")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
/// `PUT /api/scripts/{name}/extra-file`: multipart (the file part's own
/// name is kept) or a raw body with `?filename=`.
pub async fn put_extra_file(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    QueryArgs(q): QueryArgs<FileQuery>,
    req: Request,
) -> Result<Json<Value>> {
    let name = script_name(name);
    let limit = s.cfg.max_extra_file_bytes;
    let too_large = || {
        Error::TooLarge(format!(
            "the extra file is larger than the limit of {limit} bytes"
        ))
    };
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (filename, bytes) = if is_multipart {
        let mut mp = Multipart::from_request(req, &s)
            .await
            .map_err(|e| Error::BadRequest(format!("the multipart body cannot be read: {e}")))?;
        let mut found = None;
        while let Some(field) = mp.next_field().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                Error::BadRequest(format!("reading the upload failed: {e}"))
            }
        })? {
            if let Some(fname) = field.file_name().map(str::to_string) {
                let data = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large()
                    } else {
                        Error::BadRequest(format!("reading the upload failed: {e}"))
                    }
                })?;
                found = Some((q.filename.clone().unwrap_or(fname), data));
                break;
            }
        }
        found.ok_or_else(|| Error::BadRequest("the multipart body has no file part".into()))?
    } else {
        let fname = q.filename.clone().ok_or_else(|| {
            Error::invalid(
                "filename",
                "send the file as multipart/form-data, or give ?filename= with a raw body",
            )
        })?;
        let bytes = super::read_body(req.into_body(), limit, "extra file").await?;
        (fname, bytes)
    };
    if bytes.len() > limit {
        return Err(too_large());
    }
    service::set_extra_file(&s, &caller, &name, Some((&filename, &bytes))).await?;
    Ok(message(format!(
        "extra file {filename:?} ({} bytes) stored for {name:?}",
        bytes.len()
    )))
}

#[utoipa::path(delete, path = "/api/scripts/{name}/extra-file", operation_id = "delete_extra_file", tag = "scripts",
    params(("name" = String, Path, description = "script name")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn delete_extra_file(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    let name = script_name(name);
    service::set_extra_file(&s, &caller, &name, None).await?;
    Ok(message(format!("extra file of {name:?} removed")))
}

#[utoipa::path(get, path = "/api/scripts/{name}/extra-file", operation_id = "get_extra_file", tag = "scripts",
    params(("name" = String, Path, description = "script name")),
    responses((status = 200, description = "the file's bytes"), (status = 404, body = ErrorBody)))]
pub async fn get_extra_file(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response> {
    let name = script_name(name);
    service::script(&s, &caller, &name).await?;
    let (fname, bytes) = s
        .engine
        .store()
        .extra_file(&name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("the script {name:?} has no extra file")))?;
    let ctype = mime_guess::from_path(&fname)
        .first_or_octet_stream()
        .to_string();
    Ok((
        [
            (header::CONTENT_TYPE, super::header_value(&ctype)),
            (header::CONTENT_DISPOSITION, super::attachment(&fname)),
        ],
        bytes,
    )
        .into_response())
}
