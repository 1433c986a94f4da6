//! Extractors whose rejections are [`ApiError`]s: a JSON body and path ids.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body. Answers 415 unless the body is
/// `application/json` (a cross-site HTML form cannot send that without a
/// CORS preflight), 400 for malformed JSON and 422 naming the path of a
/// value of the wrong type.
///
/// Request types give every field a default (`#[serde(default)]`), so a
/// missing field reaches iamkit as empty and comes back as iamkit's own
/// validation error naming it (`email` must not be empty).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::body_too_large()
            } else {
                ApiError::malformed_json()
            }
        })?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(&mut deserializer) {
            Ok(value) => Ok(Self(value)),
            Err(e) => {
                let path = e.path().to_string();
                if e.inner().is_data() {
                    // serde's message quotes the rejected value: name the
                    // field and the rule only.
                    let field = if path == "." { "body" } else { path.as_str() };
                    Err(ApiError::invalid(field, "has the wrong type or value"))
                } else {
                    Err(ApiError::malformed_json())
                }
            }
        }
    }
}

/// Path parameters (ids). An id that does not parse names nothing that
/// exists: 404, like an id of another organization.
#[derive(Debug, Clone, Copy)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|_| ApiError::not_found())
    }
}
