//! Who is calling: passwords, sessions, API tokens and roles.
//!
//! - Passwords are hashed with argon2; secrets (session cookies, API tokens,
//!   job tokens) are 256-bit random strings stored only as SHA-256 hashes.
//! - A request authenticates with `x-molgenis-token` (EMX2's header),
//!   `Authorization: Bearer`, or the `taskwright_session` cookie.
//! - Roles are ordered: viewer < runner < admin. [`Caller::require`] is the one
//!   place a role is checked.

use crate::error::{Error, Result};
use crate::store::{Store, TokenOwner};
use app::model::{Me, Role};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use http::HeaderMap;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "taskwright_session";
/// Sessions last a week.
pub const SESSION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    /// Set when the caller is a job's own token.
    pub job_id: Option<String>,
    /// Whether the credentials came from the session cookie (CSRF rules apply).
    pub via_cookie: bool,
}

impl Caller {
    /// Refuses with 403 unless the caller's role is at least `role`.
    pub fn require(&self, role: Role, action: &str) -> Result<()> {
        if self.role >= role {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{action} needs the {} role; {:?} has the {} role",
                role.as_str(),
                self.username,
                self.role.as_str()
            )))
        }
    }

    pub fn me(&self) -> Me {
        Me {
            username: self.username.clone(),
            role: self.role,
        }
    }
}

/// A new random secret with a readable prefix, and the hash to store.
pub fn new_secret(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{prefix}_{}", hex::encode(bytes));
    let hash = hash_secret(&token);
    (token, hash)
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Argon2 hash of a password. CPU-heavy: runs on the blocking pool.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut raw = [0u8; 16];
        rand::rng().fill_bytes(&mut raw);
        let salt = SaltString::encode_b64(&raw)
            .map_err(|e| Error::Internal(format!("making a salt failed: {e}")))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("hashing the password failed: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
}

pub async fn verify_password(hash: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A password to hand out once: 20 characters from an unambiguous alphabet.
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[derive(Clone)]
pub struct Auth {
    store: Store,
    /// Hash of `TASKWRIGHT_ADMIN_TOKEN`, when set.
    admin_token_hash: Option<String>,
}

impl Auth {
    pub fn new(store: Store, admin_token: Option<&str>) -> Self {
        Auth {
            store,
            admin_token_hash: admin_token.filter(|t| !t.is_empty()).map(hash_secret),
        }
    }

    /// Creates the `admin` user when there are no users. Returns the password
    /// when it was generated (the caller prints it once).
    pub async fn bootstrap(&self, password: Option<&str>) -> Result<Option<String>> {
        if self.store.count_users().await? > 0 {
            if password.is_some_and(|p| !p.is_empty()) {
                tracing::warn!(
                    "TASKWRIGHT_ADMIN_PASSWORD is ignored: it sets the admin password only on the \
                     first start, with an empty database, and users exist already"
                );
            }
            return Ok(None);
        }
        let (password, generated) = match password.filter(|p| !p.is_empty()) {
            Some(p) => (p.to_string(), false),
            None => (random_password(), true),
        };
        let hash = hash_password(password.clone()).await?;
        self.store.create_user("admin", &hash, Role::Admin).await?;
        Ok(generated.then_some(password))
    }

    /// The caller behind the request's credentials. `Ok(None)` when it
    /// carries none; `Err(Unauthenticated)` when they are wrong or expired.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Caller>> {
        if let Some(token) = request_token(headers) {
            let hash = hash_secret(token);
            if self.admin_token_hash.as_deref() == Some(hash.as_str()) {
                return Ok(Some(self.admin_token_caller().await?));
            }
            return match self.store.token_owner(&hash).await? {
                Some(owner) => {
                    self.note_use(&owner);
                    Ok(Some(caller(owner, false)))
                }
                None => Err(Error::Unauthenticated(
                    "the token is unknown, revoked, or belonged to a job that has ended".into(),
                )),
            };
        }
        if let Some(session) = cookie(headers, SESSION_COOKIE) {
            return match self.store.session_owner(&hash_secret(session)).await? {
                Some(owner) => Ok(Some(caller(owner, true))),
                None => Err(Error::Unauthenticated(
                    "the session has expired; sign in again".into(),
                )),
            };
        }
        Ok(None)
    }

    /// Records when an admin-made token was last used, at most once a
    /// minute per token and off the request's path (a write per request
    /// would cost every API call a database write).
    fn note_use(&self, owner: &TokenOwner) {
        let (Some(id), None) = (owner.token_id, &owner.job_id) else {
            return;
        };
        let now = crate::db::now_ms();
        if owner.last_used_ms.is_some_and(|t| now - t < 60_000) {
            return;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(id, now).await {
                tracing::warn!(error = %e, token.id = id, "recording a token's use failed");
            }
        });
    }

    /// Like [`Auth::authenticate`] but credentials are required.
    pub async fn require(&self, headers: &HeaderMap) -> Result<Caller> {
        self.authenticate(headers).await?.ok_or_else(|| {
            Error::Unauthenticated(
                "authentication required: send a token in x-molgenis-token or \
                 Authorization: Bearer, or sign in"
                    .into(),
            )
        })
    }

    async fn admin_token_caller(&self) -> Result<Caller> {
        // The environment token acts as the `admin` user when it exists, so
        // jobs it starts have an owner.
        let user = self.store.user_by_name("admin").await?;
        Ok(Caller {
            user_id: user.as_ref().map_or(0, |u| u.id),
            username: "admin".into(),
            role: Role::Admin,
            job_id: None,
            via_cookie: false,
        })
    }

    /// Checks a password and opens a session; returns the cookie value.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<(Caller, String)> {
        let refuse = || Error::Unauthenticated("unknown user or wrong password".into());
        let Some(user) = self.store.user_by_name(username).await? else {
            // Spend the same time as a real check so names cannot be probed.
            let _ = verify_password(dummy_hash().await, password.into()).await;
            return Err(refuse());
        };
        if !verify_password(user.password_hash.clone(), password.into()).await {
            return Err(refuse());
        }
        let (secret, hash) = new_secret("tws");
        self.store
            .create_session(&hash, user.id, SESSION_TTL_MS)
            .await?;
        let owner = TokenOwner {
            user_id: user.id,
            username: user.username,
            role: user.role,
            job_id: None,
            token_id: None,
            last_used_ms: None,
        };
        Ok((caller(owner, true), secret))
    }

    pub async fn sign_out(&self, headers: &HeaderMap) -> Result<()> {
        if let Some(session) = cookie(headers, SESSION_COOKIE) {
            self.store.delete_session(&hash_secret(session)).await?;
        }
        Ok(())
    }

    /// Makes an API token for a user; returns (id, token). The token is not stored.
    pub async fn create_token(&self, username: &str, name: &str) -> Result<(i64, String)> {
        let user = self
            .store
            .user_by_name(username)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no user named {username:?}")))?;
        let (token, hash) = new_secret("twt");
        let id = self.store.create_token(user.id, name, &hash, None).await?;
        Ok((id, token))
    }
}

/// An argon2 hash of a random password, so refusing an unknown user costs
/// as much time as refusing a wrong password.
async fn dummy_hash() -> String {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async { hash_password(random_password()).await.unwrap_or_default() })
        .await
        .clone()
}

fn caller(owner: TokenOwner, via_cookie: bool) -> Caller {
    Caller {
        user_id: owner.user_id,
        username: owner.username,
        role: Role::parse(&owner.role).unwrap_or(Role::Viewer),
        job_id: owner.job_id,
        via_cookie,
    }
}

/// The API token of a request, from `x-molgenis-token` or a bearer header.
fn request_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(t) = headers
        .get("x-molgenis-token")
        .and_then(|v| v.to_str().ok())
    {
        return Some(t.trim()).filter(|t| !t.is_empty());
    }
    let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// One cookie's value from the `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value for a new session.
pub fn session_cookie(secret: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        SESSION_TTL_MS / 1000,
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}
