//! The web app's style sheet and scripts, embedded in the binary.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const STYLE: &str = include_str!("../../assets/web/app.css");
const SCRIPTS: [(&str, &str); 6] = [
    (
        "campaigns.js",
        include_str!("../../assets/web/campaigns.js"),
    ),
    ("browser.js", include_str!("../../assets/web/browser.js")),
    ("dialer.js", include_str!("../../assets/web/dialer.js")),
    ("live.js", include_str!("../../assets/web/live.js")),
    ("control.js", include_str!("../../assets/web/control.js")),
    ("api.js", include_str!("../../assets/web/api.js")),
];

/// The web app's style sheet.
#[utoipa::path(get, path = "/assets/web/app.css", tag = super::WEB_TAG,
    responses((status = 200, description = "CSS.", content_type = "text/css", body = String)))]
pub(super) async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// One of the web app's JavaScript modules.
#[utoipa::path(get, path = "/assets/web/js/{name}", tag = super::WEB_TAG,
    params(("name" = String, Path, description = "`dialer.js`, `live.js`, `control.js`, `browser.js`, `campaigns.js` or `api.js`.")),
    responses((status = 200, description = "A JavaScript module.", content_type = "text/javascript", body = String),
              (status = 404, description = "No such module.")))]
pub(super) async fn script(Path(name): Path<String>) -> Response {
    match SCRIPTS.iter().find(|(file, _)| *file == name) {
        Some((_, source)) => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            *source,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such module").into_response(),
    }
}
