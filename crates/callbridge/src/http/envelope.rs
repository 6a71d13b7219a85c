//! The seed's success envelope: `{"status":"success","message":…,"data":…}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct Success<T> {
    status: StatusCode,
    message: String,
    data: T,
}

/// A 200 reply with `data`.
pub fn success<T: Serialize>(message: impl Into<String>, data: T) -> Success<T> {
    Success {
        status: StatusCode::OK,
        message: message.into(),
        data,
    }
}

impl<T> Success<T> {
    /// The answer's data, for callers inside the service (the web app's pages).
    pub fn into_data(self) -> T {
        self.data
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

/// `success`, in every success body.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SuccessStatus {
    Success,
}

/// `error`, in every error body.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorStatus {
    Error,
}

/// Every successful answer of the JSON API: a message for people and `data` for programs.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessBody<T> {
    pub status: SuccessStatus,
    pub message: String,
    pub data: T,
}

impl<T: Serialize> IntoResponse for Success<T> {
    fn into_response(self) -> Response {
        let body = SuccessBody {
            status: SuccessStatus::Success,
            message: self.message,
            data: self.data,
        };
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn wraps_data_in_the_seed_shape() {
        let response = success(
            "OTP sent successfully to email",
            json!({"to": "a@example.com"}),
        )
        .with_status(StatusCode::CREATED)
        .into_response();
        assert_eq!(response.status(), StatusCode::CREATED);
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        insta::assert_json_snapshot!(body, @r#"
        {
          "data": {
            "to": "a@example.com"
          },
          "message": "OTP sent successfully to email",
          "status": "success"
        }
        "#);
    }
}
