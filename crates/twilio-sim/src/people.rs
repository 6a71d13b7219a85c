//! `/sim/`: a page where a person plays the other people on the phones. Every call the
//! simulator is ringing or connecting shows there: a number whose behaviour is `person` waits
//! for Answer, Busy or No answer; an answered call has Hang up and a keypad (the agent's key
//! press, on callbridge's prompt).

use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

const PAGE: &str = include_str!("people/people.html");
const SCRIPT: &str = include_str!("people/people.js");
const STYLE: &str = include_str!("people/people.css");

pub(crate) async fn page() -> Html<&'static str> {
    Html(PAGE)
}

pub(crate) async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

pub(crate) async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}
