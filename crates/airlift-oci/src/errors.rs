//! The specification's error codes, mapped to HTTP statuses in one table.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error code of the OCI distribution specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The blob is unknown to the registry.
    BlobUnknown,
    /// The upload failed (bad range, bad body).
    BlobUploadInvalid,
    /// The upload session is unknown.
    BlobUploadUnknown,
    /// The digest is malformed or does not match the content.
    DigestInvalid,
    /// A blob referenced by a manifest is unknown.
    ManifestBlobUnknown,
    /// The manifest is invalid.
    ManifestInvalid,
    /// The manifest is unknown.
    ManifestUnknown,
    /// The repository name is invalid.
    NameInvalid,
    /// The repository is unknown.
    NameUnknown,
    /// The content is larger than allowed.
    SizeInvalid,
    /// The operation is not supported.
    Unsupported,
    /// The range is not satisfiable.
    RangeInvalid,
    /// Authentication is required.
    Unauthorized,
    /// The caller may not do this.
    Denied,
    /// Too many failed attempts.
    TooManyRequests,
}

impl Code {
    /// The code string and HTTP status: the one table.
    pub fn describe(self) -> (&'static str, StatusCode) {
        match self {
            Self::BlobUnknown => ("BLOB_UNKNOWN", StatusCode::NOT_FOUND),
            Self::BlobUploadInvalid => ("BLOB_UPLOAD_INVALID", StatusCode::BAD_REQUEST),
            Self::BlobUploadUnknown => ("BLOB_UPLOAD_UNKNOWN", StatusCode::NOT_FOUND),
            Self::DigestInvalid => ("DIGEST_INVALID", StatusCode::BAD_REQUEST),
            Self::ManifestBlobUnknown => ("MANIFEST_BLOB_UNKNOWN", StatusCode::BAD_REQUEST),
            Self::ManifestInvalid => ("MANIFEST_INVALID", StatusCode::BAD_REQUEST),
            Self::ManifestUnknown => ("MANIFEST_UNKNOWN", StatusCode::NOT_FOUND),
            Self::NameInvalid => ("NAME_INVALID", StatusCode::BAD_REQUEST),
            Self::NameUnknown => ("NAME_UNKNOWN", StatusCode::NOT_FOUND),
            Self::SizeInvalid => ("SIZE_INVALID", StatusCode::PAYLOAD_TOO_LARGE),
            Self::Unsupported => ("UNSUPPORTED", StatusCode::METHOD_NOT_ALLOWED),
            Self::RangeInvalid => ("BLOB_UPLOAD_INVALID", StatusCode::RANGE_NOT_SATISFIABLE),
            Self::Unauthorized => ("UNAUTHORIZED", StatusCode::UNAUTHORIZED),
            Self::Denied => ("DENIED", StatusCode::FORBIDDEN),
            Self::TooManyRequests => ("TOOMANYREQUESTS", StatusCode::TOO_MANY_REQUESTS),
        }
    }
}

/// An error response: `{"errors":[{"code","message","detail"}]}`.
#[derive(Debug)]
pub struct OciError {
    /// The code.
    pub code: Code,
    /// A human message.
    pub message: String,
}

impl OciError {
    /// An error with a message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let (code, status) = self.code.describe();
        let body =
            serde_json::json!({"errors": [{"code": code, "message": self.message, "detail": {}}]});
        let mut response = (status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// A failure inside the server (store, disk): 500, logged, not detailed to the client.
pub fn internal(error: impl std::fmt::Display) -> Response {
    tracing::error!("registry: {error}");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
}
