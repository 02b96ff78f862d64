//! REST handlers: thin translations between HTTP/JSON and [`crate::admin`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::body::{self, RestError};
use super::json;
use crate::admin::{self, ConnectionRequest, SessionRequest};
use crate::model::ServerError;
use crate::state::ServerState;

type Hub = State<Arc<ServerState>>;
type RestResult = Result<Response, RestError>;

fn wants_pending(query: &Option<String>) -> bool {
    query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|pair| pair == "pendingConnections=true"))
}

/// A missing session is a 400 on connection sub-resources (OpenVidu behaviour).
fn session_for_subresource(hub: &ServerState, id: &str) -> Result<Arc<crate::session::Session>, RestError> {
    admin::get_session(hub, id).map_err(|_| RestError::bad_request(format!("session {id} not found")))
}

/// Synchronous core of `POST /sessions`.
pub(crate) fn create_session_sync(hub: &ServerState, payload: &[u8]) -> RestResult {
    let map = body::object(payload)?;
    let request = SessionRequest {
        custom_session_id: body::opt_string(&map, "customSessionId")?,
        media_mode: body::opt_enum(&map, "mediaMode", &["ROUTED", "RELAYED"])?,
        recording_mode: body::opt_enum(&map, "recordingMode", &["MANUAL", "ALWAYS"])?,
        default_recording_properties: body::opt_object(&map, "defaultRecordingProperties")?,
        forced_video_codec: body::opt_string(&map, "forcedVideoCodec")?,
        allow_transcoding: body::opt_bool(&map, "allowTranscoding")?,
    };
    let session = admin::create_session(hub, request)?;
    Ok(Json(json::session(&session, false)).into_response())
}

/// `POST /sessions`.
pub async fn create_session(State(hub): Hub, payload: Bytes) -> RestResult {
    create_session_sync(&hub, &payload)
}

/// `GET /sessions`.
pub async fn list_sessions(State(hub): Hub, RawQuery(query): RawQuery) -> RestResult {
    let pending = wants_pending(&query);
    let content: Vec<Value> = admin::list_sessions(&hub)
        .iter()
        .map(|s| json::session(s, pending))
        .collect();
    Ok(Json(json!({"numberOfElements": content.len(), "content": content})).into_response())
}

/// `GET /sessions/{id}`.
pub async fn get_session(State(hub): Hub, Path(id): Path<String>, RawQuery(query): RawQuery) -> RestResult {
    let session = admin::get_session(&hub, &id)?;
    Ok(Json(json::session(&session, wants_pending(&query))).into_response())
}

/// `DELETE /sessions/{id}`.
pub async fn close_session(State(hub): Hub, Path(id): Path<String>) -> RestResult {
    admin::close_session(&hub, &id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn connection_request(map: &serde_json::Map<String, Value>) -> Result<ConnectionRequest, RestError> {
    if let Some(kind) = body::opt_string(map, "type")? {
        if kind != "WEBRTC" {
            return Err(RestError::bad_request("only connections of type WEBRTC are supported"));
        }
    }
    Ok(ConnectionRequest {
        role: body::opt_role(map, "role")?,
        data: body::opt_string(map, "data")?,
        record: body::opt_bool(map, "record")?,
        kurento_options: body::opt_object(map, "kurentoOptions")?,
    })
}

/// Synchronous core of `POST /sessions/{id}/connection`.
pub(crate) fn create_connection_sync(hub: &ServerState, id: &str, payload: &[u8]) -> RestResult {
    let request = connection_request(&body::object(payload)?)?;
    let (_, entry) = admin::create_connection(hub, id, request)?;
    Ok(Json(json::pending_connection(id, &entry)).into_response())
}

/// `POST /sessions/{id}/connection`.
pub async fn create_connection(State(hub): Hub, Path(id): Path<String>, payload: Bytes) -> RestResult {
    create_connection_sync(&hub, &id, &payload)
}

/// `GET /sessions/{id}/connection`: active then pending connections (`?pendingConnections=false`: active only).
pub async fn list_connections(State(hub): Hub, Path(id): Path<String>, RawQuery(query): RawQuery) -> RestResult {
    let session = session_for_subresource(&hub, &id)?;
    let active_only = query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|pair| pair == "pendingConnections=false"));
    let mut full = json::session(&session, !active_only);
    let content = full["connections"]["content"].take();
    let count = content.as_array().map_or(0, Vec::len);
    Ok(Json(json!({"numberOfElements": count, "content": content})).into_response())
}

/// `GET /sessions/{id}/connection/{connectionId}`.
pub async fn get_connection(State(hub): Hub, Path((id, connection_id)): Path<(String, String)>) -> RestResult {
    let session = session_for_subresource(&hub, &id)?;
    let found = json::find_connection(&session, &connection_id).ok_or(ServerError::ConnectionNotFound)?;
    Ok(Json(found).into_response())
}

/// `DELETE /sessions/{id}/connection/{connectionId}`.
pub async fn delete_connection(State(hub): Hub, Path((id, connection_id)): Path<(String, String)>) -> RestResult {
    session_for_subresource(&hub, &id)?;
    admin::delete_connection(&hub, &id, &connection_id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PATCH /sessions/{id}/connection/{connectionId}`.
pub async fn update_connection(
    State(hub): Hub,
    Path((id, connection_id)): Path<(String, String)>,
    payload: Bytes,
) -> RestResult {
    update_connection_sync(&hub, &id, &connection_id, &payload)
}

/// Synchronous core of `PATCH /sessions/{id}/connection/{connectionId}`.
pub(crate) fn update_connection_sync(hub: &ServerState, id: &str, connection_id: &str, payload: &[u8]) -> RestResult {
    let map = body::object(payload)?;
    let role = body::opt_role(&map, "role")?;
    let record = body::opt_bool(&map, "record")?;
    let session = session_for_subresource(hub, id)?;
    admin::update_connection(hub, id, connection_id, role, record)?;
    let found = json::find_connection(&session, connection_id).ok_or(ServerError::ConnectionNotFound)?;
    Ok(Json(found).into_response())
}

/// `DELETE /sessions/{id}/stream/{streamId}`.
pub async fn unpublish_stream(State(hub): Hub, Path((id, stream_id)): Path<(String, String)>) -> RestResult {
    session_for_subresource(&hub, &id)?;
    admin::unpublish_stream(&hub, &id, &stream_id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Synchronous core of `POST /tokens` (deprecated API).
pub(crate) fn create_token_sync(hub: &ServerState, payload: &[u8]) -> RestResult {
    let map = body::object(payload)?;
    let session_id = body::opt_string(&map, "session")?.ok_or_else(|| RestError::bad_request("session is required"))?;
    let request = connection_request(&map)?;
    let (pending, entry) = admin::create_connection(hub, &session_id, request)?;
    Ok(Json(json!({
        "id": pending.token,
        "object": "token",
        "token": pending.token,
        "connectionId": pending.connection_id,
        "createdAt": entry.created_at,
        "session": session_id,
        "role": entry.profile.role.as_str(),
        "data": entry.data,
        "kurentoOptions": entry.kurento_options,
    }))
    .into_response())
}

/// `POST /tokens` (deprecated API).
pub async fn create_token(State(hub): Hub, payload: Bytes) -> RestResult {
    create_token_sync(&hub, &payload)
}

/// Synchronous core of `POST /signal`.
pub(crate) fn send_signal_sync(hub: &ServerState, payload: &[u8]) -> RestResult {
    let map = body::object(payload)?;
    let session_id = body::opt_string(&map, "session")?.ok_or_else(|| RestError::bad_request("session is required"))?;
    let to = body::opt_string_list(&map, "to")?;
    let signal_type = body::opt_string(&map, "type")?;
    let data = body::opt_string(&map, "data")?.unwrap_or_default();
    admin::send_signal(hub, &session_id, to.as_deref(), signal_type.as_deref(), &data)?;
    tracing::debug!(session = %session_id, "signal sent by REST ({} bytes)", data.len());
    Ok(StatusCode::OK.into_response())
}

/// `POST /signal`.
pub async fn send_signal(State(hub): Hub, payload: Bytes) -> RestResult {
    send_signal_sync(&hub, &payload)
}
