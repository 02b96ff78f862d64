//! Applies server notifications to the roster and turns them into events, in the browser's order.
//! A malformed notification is logged and dropped; it never ends the session.

use std::sync::Arc;

use serde_json::Value;

use super::hot::HotNotification;
use super::shared::{EventSink, Shared};
use super::types::{Connection, DisconnectReason, Event};
use super::wire;

/// What a notification means for the session as a whole.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Keep going.
    Continue,
    /// The own connection was evicted: the session ends with this reason (no resume).
    Evicted(DisconnectReason),
}

/// Everything needed to apply notifications of one connection.
pub(crate) struct Notifier<'a> {
    pub shared: &'a Shared,
    pub events: &'a EventSink,
    pub own: &'a Arc<Connection>,
    pub connection_events_suppressed: bool,
}

impl Notifier<'_> {
    /// Applies one notification.
    pub fn apply(&self, method: &str, params: &Value) -> Effect {
        let result = match method {
            "participantJoined" => self.participant_joined(params),
            "participantLeft" => self.participant_left(params),
            "participantEvicted" => return self.participant_evicted(params),
            "participantPublished" => self.participant_published(params),
            "participantUnpublished" => self.participant_unpublished(params),
            "sendMessage" => self.signal(params),
            other => {
                log::debug!("ignoring notification {other}");
                Ok(())
            }
        };
        if let Err(e) = result {
            log::warn!("protocol error in {method} notification: {e}");
        }
        Effect::Continue
    }

    /// The session id every connection of this session shares.
    fn session_id(&self) -> &Arc<str> {
        self.own.shared_session_id()
    }

    fn emit_connection_event(&self, event: Event) {
        if !self.connection_events_suppressed {
            self.events.emit(event);
        }
    }

    /// Applies a flood notification parsed by [`parse_hot`](super::hot::parse_hot): the same
    /// outcome as [`apply`](Self::apply) on the general parse of the same frame.
    pub fn apply_hot(&self, notification: HotNotification<'_>) {
        match notification {
            HotNotification::Joined { id, created_at, metadata } => {
                let created_at_ms = created_at.map_or(0, |n| wire::millis_of(&n));
                let connection = wire::connection_from_fields(&id, created_at_ms, metadata.as_deref().unwrap_or_default(), self.session_id(), None);
                self.add_joined(Arc::new(connection));
            }
            HotNotification::Signal { kind, data, from } => {
                let signal = wire::received_signal(kind.as_deref(), data.as_deref(), from.as_deref());
                self.deliver_signal(signal);
            }
        }
    }

    fn participant_joined(&self, params: &Value) -> Result<(), String> {
        let connection = Arc::new(wire::parse_connection(params, self.session_id(), None)?);
        self.add_joined(connection);
        Ok(())
    }

    fn add_joined(&self, connection: Arc<Connection>) {
        if connection.id() == self.own.id() {
            return;
        }
        let added = self.shared.lock().roster.add_connection(connection.clone());
        if added {
            self.emit_connection_event(Event::ConnectionCreated(connection));
        } else {
            log::debug!("participantJoined for {} already in the roster: ignored", connection.id());
        }
    }

    fn participant_left(&self, params: &Value) -> Result<(), String> {
        let (id, reason) = wire::parse_connection_reason(params)?;
        let removed = self.shared.lock().roster.remove_connection(&id);
        let Some((connection, stream)) = removed else {
            log::debug!("participantLeft for unknown connection {id}: ignored");
            return Ok(());
        };
        if let Some(stream) = stream {
            self.events.emit(Event::StreamDropped { stream, reason: reason.clone() });
        }
        self.emit_connection_event(Event::ConnectionDropped { connection, reason: DisconnectReason::from_wire(&reason) });
        Ok(())
    }

    fn participant_evicted(&self, params: &Value) -> Effect {
        match wire::parse_connection_reason(params) {
            Ok((id, reason)) if id == self.own.id() => Effect::Evicted(DisconnectReason::from_wire(&reason)),
            Ok(_) => Effect::Continue,
            Err(e) => {
                log::warn!("protocol error in participantEvicted notification: {e}");
                Effect::Continue
            }
        }
    }

    fn participant_published(&self, params: &Value) -> Result<(), String> {
        let participant = wire::parse_participant(params, self.session_id())?;
        if participant.connection.id() == self.own.id() {
            return Ok(());
        }
        let known = self.shared.lock().roster.connection(participant.connection.id());
        let connection = match known {
            Some(known) => known,
            None => {
                // Published by a connection we never saw join: announce it first.
                let connection = participant.connection.clone();
                if self.shared.lock().roster.add_connection(connection.clone()) {
                    self.emit_connection_event(Event::ConnectionCreated(connection.clone()));
                }
                connection
            }
        };
        let streams = wire::parse_streams(params, &connection)?;
        for stream in streams {
            if self.shared.lock().roster.add_stream(stream.clone()) {
                self.events.emit(Event::StreamReceived(stream));
            }
        }
        Ok(())
    }

    fn participant_unpublished(&self, params: &Value) -> Result<(), String> {
        let (id, reason) = wire::parse_connection_reason(params)?;
        let removed = self.shared.lock().roster.remove_stream_of(&id);
        if let Some(stream) = removed {
            self.events.emit(Event::StreamDropped { stream, reason });
        }
        Ok(())
    }

    fn signal(&self, params: &Value) -> Result<(), String> {
        let signal = wire::parse_received_signal(params)?;
        self.deliver_signal(signal);
        Ok(())
    }

    fn deliver_signal(&self, signal: wire::ReceivedSignal) {
        let from = signal.from.map(|id| {
            if id == self.own.id() {
                return self.own.clone();
            }
            let known = self.shared.lock().roster.connection(&id);
            known.unwrap_or_else(|| {
                log::debug!("signal from {id}, not in the roster");
                Arc::new(wire::connection_from_id(&id, self.session_id()))
            })
        });
        self.events.emit(Event::SignalReceived { kind: signal.kind, data: signal.data, from });
    }
}
