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

/// Joins parsed but not yet in the roster (see [`Notifier::apply_hot`]). Taking the roster's lock once
/// per frame cost more than the insertion it guards in a join storm: the unlock waits for the
/// insertion's scattered writes to reach the cache.
#[derive(Default)]
pub(crate) struct StagedJoins(Vec<Arc<Connection>>);

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
    /// outcome as [`apply`](Self::apply) on the general parse of the same frame. A join is only staged
    /// in `staged`: the caller applies the staged joins with [`apply_staged`](Self::apply_staged) before
    /// any other frame and at the end of its batch, so that one lock of the roster serves a run of joins.
    pub fn apply_hot(&self, notification: HotNotification<'_>, staged: &mut StagedJoins) {
        match notification {
            HotNotification::Joined { id, created_at, metadata } => {
                let created_at_ms = created_at.map_or(0, |n| wire::millis_of(&n));
                let connection = wire::connection_from_fields(&id, created_at_ms, metadata.as_deref().unwrap_or_default(), self.session_id(), None);
                self.stage(Arc::new(connection), staged);
            }
            HotNotification::Signal { kind, data, from } => {
                self.apply_staged(staged);
                let signal = wire::received_signal(kind.as_deref(), data, from.as_deref());
                self.deliver_signal(signal);
            }
        }
    }

    /// Adds the staged joins to the roster, in order, under one lock, then emits a `ConnectionCreated`
    /// for each one that was new (what [`apply`](Self::apply) does for them one by one).
    pub fn apply_staged(&self, staged: &mut StagedJoins) {
        if staged.0.is_empty() {
            return;
        }
        {
            let mut view = self.shared.lock();
            staged.0.retain(|connection| {
                let added = view.roster.add_connection(connection.clone());
                if !added {
                    log::debug!("participantJoined for {} already in the roster: ignored", connection.id());
                }
                added
            });
        }
        for connection in staged.0.drain(..) {
            self.emit_connection_event(Event::ConnectionCreated(connection));
        }
    }

    fn participant_joined(&self, params: &Value) -> Result<(), String> {
        let mut one = StagedJoins::default();
        self.stage(Arc::new(wire::parse_connection(params, self.session_id(), None)?), &mut one);
        self.apply_staged(&mut one);
        Ok(())
    }

    /// Stages a joined connection for [`apply_staged`](Self::apply_staged) (the own one never enters the roster).
    fn stage(&self, connection: Arc<Connection>, staged: &mut StagedJoins) {
        if connection.id() != self.own.id() {
            staged.0.push(connection);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::hot::parse_hot;
    use crate::client::jsonrpc::{parse_frame, Incoming};
    use tokio::sync::mpsc;

    /// A join storm as the fast path sees it, with what it must leave to the general path in between.
    const FRAMES: &[&str] = &[
        r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_a","createdAt":1,"metadata":"{\"clientData\":\"Ann\"}"}}"#,
        r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_b","createdAt":2,"metadata":"Bob%/%srv"}}"#,
        r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_a","createdAt":3,"metadata":"again"}}"#,
        r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_own","createdAt":4,"metadata":"me"}}"#,
        r#"{"jsonrpc":"2.0","method":"sendMessage","params":{"data":"{\"x\":1}","type":"signal:chat","from":"con_b"}}"#,
        r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_c","createdAt":5,"metadata":"Cy"}}"#,
        r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"con_c","reason":"disconnect"}}"#,
        r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_c","createdAt":6,"metadata":"Cy again"}}"#,
        r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_d","createdAt":7,"metadata":null,"streams":[]}}"#,
        r#"{"jsonrpc":"2.0","method":"sendMessage","params":{"data":"hi","type":"signal:chat","from":"con_d"}}"#,
        r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_e","createdAt":8,"metadata":"Eve"}}"#,
    ];

    /// The events and the roster ids after `apply` saw every frame.
    fn outcome(apply: impl Fn(&Notifier<'_>)) -> (Vec<String>, Vec<String>) {
        let shared = Shared::new(None);
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let events = EventSink::new(sender);
        let own = Arc::new(wire::connection_from_id("con_own", &Arc::from("ses_a")));
        apply(&Notifier { shared: &shared, events: &events, own: &own, connection_events_suppressed: false });
        let mut seen = Vec::new();
        while let Ok(batch) = receiver.try_recv() {
            seen.extend(batch.iter().map(|event| format!("{event:?}")));
        }
        let roster = shared.lock().roster.connections().iter().map(|c| c.id().to_string()).collect();
        (seen, roster)
    }

    #[test]
    fn the_fast_path_with_staged_joins_ends_as_the_general_path_does() {
        let general = outcome(|notifier| {
            for text in FRAMES {
                let Ok(Incoming::Notification { method, params }) = parse_frame(text) else { panic!("{text}") };
                notifier.apply(&method, &params);
            }
        });
        // As the connected loop applies one batch of frames (`live::on_frame_batch`).
        let fast = outcome(|notifier| {
            let (mut staged, mut scratch) = (StagedJoins::default(), String::new());
            for text in FRAMES {
                if let Some(notification) = parse_hot(text, &mut scratch) {
                    notifier.apply_hot(notification, &mut staged);
                    continue;
                }
                notifier.apply_staged(&mut staged);
                let Ok(Incoming::Notification { method, params }) = parse_frame(text) else { panic!("{text}") };
                notifier.apply(&method, &params);
            }
            notifier.apply_staged(&mut staged);
        });
        assert_eq!(general.1, ["con_a", "con_b", "con_c", "con_d", "con_e"]);
        assert_eq!(general.0.len(), 9, "{:#?}", general.0);
        assert_eq!(fast, general);
    }
}
