//! `GET /api/openapi.json`: the REST API as an OpenAPI 3.1 document,
//! generated from the `#[utoipa::path]` annotations on the handlers
//! themselves. A test checks that every documented operation is routed.

use app::model::{ExtraFileInfo, JobStatus, Role, ScheduleInfo, Script, ScriptType, Trigger};
use axum::Json;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// EMX2's error shape, with the status code telling what kind of error.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub errors: Vec<ErrorItem>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorItem {
    pub message: String,
    /// The invalid field, for validation errors.
    pub field: Option<String>,
}

/// `GET /api/tasks/scheduled`.
#[derive(Serialize, ToSchema)]
pub struct ScheduledList {
    pub scheduled: Vec<ScheduleInfo>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Taskwright",
        description = "Scripts and jobs, compatible with MOLGENIS EMX2's task API. Every \
                       operation except the health check needs a token (`x-molgenis-token` or \
                       `Authorization: Bearer`) or a signed-in session cookie."
    ),
    paths(
        super::health,
        super::tasks::run_async,
        super::tasks::run_sync,
        super::tasks::list,
        super::tasks::scheduled,
        super::tasks::clear,
        super::tasks::get_one,
        super::tasks::delete,
        super::tasks::output,
        super::tasks::log,
        super::tasks::events,
        super::tasks::cancel,
        super::scripts::list,
        super::scripts::get_one,
        super::scripts::save,
        super::scripts::delete,
        super::scripts::put_extra_file,
        super::scripts::get_extra_file,
        super::scripts::delete_extra_file,
        super::users::sign_in,
        super::users::sign_out,
        super::users::me,
        super::users::list,
        super::users::create,
        super::users::update,
        super::users::delete,
        super::users::list_tokens,
        super::users::create_token,
        super::users::revoke_token,
        crate::graphql::handler,
        openapi_json,
    ),
    components(schemas(
        ErrorBody, ErrorItem, ScheduledList, Script, ScriptType, ExtraFileInfo,
        JobStatus, Trigger, Role, ScheduleInfo
    )),
    modifiers(&Security),
    security(("token" = []), ("bearer" = []), ("session" = [])),
    tags(
        (name = "runs", description = "Start scripts (EMX2's calls)"),
        (name = "tasks", description = "Jobs, their logs and outputs"),
        (name = "scripts", description = "Script definitions (admin)"),
        (name = "users", description = "Sessions, users and API tokens"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-molgenis-token"))),
        );
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        doc
    })
}

#[utoipa::path(get, path = "/api/openapi.json", operation_id = "openapi", tag = "runs",
    description = "This document; any signed-in user or token may read it.",
    responses((status = 200, description = "this document", body = Object)))]
pub async fn openapi_json(_caller: crate::auth::Caller) -> Json<&'static utoipa::openapi::OpenApi> {
    Json(document())
}
