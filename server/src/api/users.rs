//! Sign-in, users and API tokens (admin only, except signing in and out).

use super::openapi::ErrorBody;
use super::{message, JsonBody, QueryArgs};
use crate::auth::{clear_session_cookie, session_cookie, Caller};
use crate::error::{Error, Result};
use crate::service;
use crate::state::{check_same_origin, AppState};
use app::model::Role;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    /// EMX2 calls the user name `email`; both are accepted.
    #[serde(alias = "email")]
    username: String,
    password: String,
}

#[utoipa::path(post, path = "/api/signin", operation_id = "sign_in", tag = "users",
    description = "Sets an HttpOnly session cookie. `email` is accepted for `username`.",
    request_body = SignIn, security(()),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
pub async fn sign_in(
    State(s): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response> {
    // Another site's page must not sign a browser in to an account of its choosing.
    check_same_origin(&headers, &s.public_url)?;
    let (caller, secret) = s.auth.sign_in(&body.username, &body.password).await?;
    let secure = s.public_url.starts_with("https://");
    Ok((
        [(header::SET_COOKIE, session_cookie(&secret, secure))],
        Json(json!({"username": caller.username, "role": caller.role})),
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/signout", operation_id = "sign_out", tag = "users",
    responses((status = 200, body = Object)))]
pub async fn sign_out(State(s): State<AppState>, headers: HeaderMap) -> Result<Response> {
    check_same_origin(&headers, &s.public_url)?;
    s.auth.sign_out(&headers).await?;
    Ok((
        [(header::SET_COOKIE, clear_session_cookie())],
        message("signed out"),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/me", operation_id = "me", tag = "users",
    responses((status = 200, description = "`username`, `role`, and `jobId` for a job token", body = Object)))]
pub async fn me(caller: Caller) -> Json<Value> {
    Json(json!({"username": caller.username, "role": caller.role, "jobId": caller.job_id}))
}

#[utoipa::path(get, path = "/api/users", operation_id = "list_users", tag = "users",
    responses((status = 200, body = Object)))]
pub async fn list(State(s): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    caller.require(Role::Admin, "listing users")?;
    let users = s.engine.store().list_users().await?;
    Ok(Json(json!(users
        .iter()
        .map(|u| json!({"username": u.username, "role": u.role, "createdMs": u.created_ms}))
        .collect::<Vec<_>>())))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    username: String,
    password: String,
    role: Role,
}

#[utoipa::path(post, path = "/api/users", operation_id = "create_user", tag = "users",
    request_body = NewUser,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(u): JsonBody<NewUser>,
) -> Result<Response> {
    service::create_user(&s, &caller, &u.username, &u.password, u.role).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"username": u.username, "role": u.role})),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UserChange {
    password: Option<String>,
    role: Option<Role>,
}

#[utoipa::path(put, path = "/api/users/{username}", operation_id = "update_user", tag = "users",
    params(("username" = String, Path)), request_body = UserChange,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
    JsonBody(ch): JsonBody<UserChange>,
) -> Result<Json<Value>> {
    caller.require(Role::Admin, "changing users")?;
    let hash = match ch.password {
        Some(p) if p.chars().count() < 8 => {
            return Err(Error::invalid(
                "password",
                "a password needs at least 8 characters",
            ))
        }
        Some(p) => Some(crate::auth::hash_password(p).await?),
        None => None,
    };
    if !s
        .engine
        .store()
        .update_user(&username, hash.as_deref(), ch.role)
        .await?
    {
        return Err(Error::NotFound(format!(
            "there is no user named {username:?}"
        )));
    }
    Ok(message(format!("user {username:?} updated")))
}

#[utoipa::path(delete, path = "/api/users/{username}", operation_id = "delete_user", tag = "users",
    params(("username" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<Json<Value>> {
    caller.require(Role::Admin, "deleting users")?;
    if username == caller.username {
        return Err(Error::Conflict(
            "you cannot delete the user you are signed in as".into(),
        ));
    }
    if !s.engine.store().delete_user(&username).await? {
        return Err(Error::NotFound(format!(
            "there is no user named {username:?}"
        )));
    }
    Ok(message(format!("user {username:?} deleted")))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    username: Option<String>,
}

#[utoipa::path(get, path = "/api/tokens", operation_id = "list_tokens", tag = "users",
    description = "API tokens made by admins (never the secret; job tokens are not listed).",
    params(("username" = Option<String>, Query, description = "only this user's")),
    responses((status = 200, body = Object)))]
pub async fn list_tokens(
    State(s): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<TokenQuery>,
) -> Result<Json<Value>> {
    caller.require(Role::Admin, "listing tokens")?;
    Ok(Json(json!(
        s.engine.store().list_tokens(q.username.as_deref()).await?
    )))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    username: String,
    #[serde(default)]
    name: Option<String>,
}

#[utoipa::path(post, path = "/api/tokens", operation_id = "create_token", tag = "users",
    description = "The answer's `token` is the only time the secret is shown.",
    request_body = NewToken,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
/// Creates a token; the answer is the only time it is shown.
pub async fn create_token(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(t): JsonBody<NewToken>,
) -> Result<Response> {
    caller.require(Role::Admin, "creating tokens")?;
    let name = t.name.unwrap_or_else(|| "api token".into());
    let (id, token) = s.auth.create_token(&t.username, &name).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"id": id, "username": t.username, "name": name, "token": token,
                    "message": "store this token now: it is not shown again"}),
        ),
    )
        .into_response())
}

#[utoipa::path(delete, path = "/api/tokens/{id}", operation_id = "revoke_token", tag = "users",
    params(("id" = i64, Path, description = "token id from GET /api/tokens")),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    caller.require(Role::Admin, "revoking tokens")?;
    let id: i64 = id.parse().map_err(|_| {
        Error::BadRequest(format!(
            "{id:?} is not a token id (a number, from GET /api/tokens)"
        ))
    })?;
    if !s.engine.store().revoke_token(id).await? {
        return Err(Error::NotFound(format!(
            "there is no API token with id {id}"
        )));
    }
    Ok(message(format!("token {id} revoked")))
}
