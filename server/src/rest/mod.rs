//! REST API under `/openvidu/api` (Basic auth, JSON bodies, bounded body size).

mod auth;
mod body;
pub(crate) mod handlers;
mod json;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;

use crate::state::ServerState;

/// The REST routes, relative to `/openvidu/api`.
pub fn router(hub: Arc<ServerState>) -> Router<Arc<ServerState>> {
    Router::new()
        .route("/sessions", get(handlers::list_sessions).post(handlers::create_session))
        .route(
            "/sessions/{id}",
            get(handlers::get_session).delete(handlers::close_session),
        )
        .route(
            "/sessions/{id}/connection",
            get(handlers::list_connections).post(handlers::create_connection),
        )
        .route(
            "/sessions/{id}/connection/{connection_id}",
            get(handlers::get_connection)
                .delete(handlers::delete_connection)
                .patch(handlers::update_connection),
        )
        .route("/sessions/{id}/stream/{stream_id}", delete(handlers::unpublish_stream))
        .route("/tokens", post(handlers::create_token))
        .route("/signal", post(handlers::send_signal))
        .route_layer(axum::middleware::from_fn_with_state(
            hub.clone(),
            auth::require_basic_auth,
        ))
        .layer(DefaultBodyLimit::max(hub.config.max_rest_body_bytes))
}
