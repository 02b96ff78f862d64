//! One session: its participants and pending connections behind one small lock. Every change
//! and its notifications happen under that lock, so each recipient sees events in one order.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use serde_json::Value;

use crate::config::ServerConfig;
use crate::model::{LeaveReason, Role, ServerError};
use crate::outbound::feed::Feed;
use crate::outbound::packer::FramePacker;
use crate::outbound::SocketLink;
use crate::participant::{Delivery, NewParticipant, Participant, Profile};
use crate::pending::PendingTokens;
use crate::replay::Replay;
use crate::rpc::{codes, Frame, RpcError};
use crate::state::ServerState;
use crate::wire;

/// Session properties given at creation (echoed by REST).
#[derive(Clone, Debug)]
pub struct SessionSettings {
    /// `ROUTED` or `RELAYED`.
    pub media_mode: String,
    /// `MANUAL` or `ALWAYS`.
    pub recording_mode: String,
    /// Opaque recording defaults.
    pub default_recording_properties: Value,
    /// The custom id asked for ("" when none).
    pub custom_session_id: String,
    /// Forced codec name.
    pub forced_video_codec: String,
    /// Transcoding flag.
    pub allow_transcoding: bool,
}

/// A connection created by REST and not joined yet.
#[derive(Clone, Debug)]
pub struct PendingEntry {
    /// Connection id it will have.
    pub connection_id: String,
    /// Full token URL.
    pub token: String,
    /// Role and record.
    pub profile: Profile,
    /// Server data.
    pub data: String,
    /// Kurento options as given.
    pub kurento_options: Value,
    /// Creation time, ms.
    pub created_at: i64,
}

struct SessionState {
    participants: Vec<Arc<Participant>>,
    /// What was sent to every participant, kept once for all of them for resumes.
    broadcasts: Replay<Frame>,
    /// The same broadcasts, numbered alike, as the attached sockets' writers take them.
    feed: Arc<Feed>,
    /// Participants whose socket is gone inside the resume grace (and maybe some that are not any
    /// more): broadcasts go to their backlogs.
    detached: Vec<Arc<Participant>>,
    pending: PendingTokens,
    closed: bool,
    empty_since: Instant,
    /// Lays the broadcasts out in sequence for the writers that copy them.
    packer: FramePacker,
}

/// A session.
pub struct Session {
    /// Session id.
    pub id: String,
    /// Creation time, ms.
    pub created_at: i64,
    /// Creation properties.
    pub settings: SessionSettings,
    state: Mutex<SessionState>,
}

/// A copy of a session's connections, for REST.
pub struct SessionSnapshot {
    /// Active connections in join order.
    pub participants: Vec<Arc<Participant>>,
    /// Pending connections in creation order.
    pub pending: Vec<PendingEntry>,
}

/// What the joining socket brings to `joinRoom`.
pub struct JoinRequest<'a> {
    /// Full token string.
    pub token: &'a str,
    /// `metadata` param.
    pub client_data: String,
    /// `platform` param.
    pub platform: String,
    /// RPC session id of the socket.
    pub rpc_session_id: &'a str,
    /// The socket.
    pub socket: &'a SocketLink,
    /// Remote address.
    pub ip: String,
    /// JSON-RPC id of the request, for the response.
    pub request_id: &'a Value,
}

/// A response to put on a socket at the right moment of an operation.
pub struct Reply<'a> {
    /// Socket to answer on.
    pub socket: &'a SocketLink,
    /// Encoded response.
    pub frame: Frame,
}

/// Which participant a removal is for.
#[derive(Clone, Copy)]
enum Whom<'a> {
    /// The one with this connection id.
    Id(&'a str),
    /// This very one, found by identity: a leave scans the members without reading their ids (each
    /// a string on the heap; under churn that scan was 1.4% of the server's `perf` samples).
    Exactly(&'a Arc<Participant>),
}

impl Whom<'_> {
    fn is(&self, participant: &Arc<Participant>) -> bool {
        match self {
            Whom::Id(connection_id) => participant.connection_id == *connection_id,
            Whom::Exactly(me) => Arc::ptr_eq(participant, me),
        }
    }
}

/// How a participant goes away.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Removal {
    /// It left by itself: only `participantLeft` to the others; its socket stays open.
    Leave,
    /// It is evicted: `participantLeft`, then `participantEvicted` to everyone, then its socket is closed.
    Evict,
}

/// Participants whose queues overflowed during an operation (to be evicted afterwards).
type Overflowed = Vec<String>;

impl SessionState {
    /// Number the next broadcast will get: what a private notification sent now is stamped with.
    fn next_broadcast(&self) -> u64 {
        self.broadcasts.last_seq() + 1
    }
}

impl Session {
    /// A new, empty session; `config` bounds what it keeps for resumes.
    pub fn new(id: String, settings: SessionSettings, config: &ServerConfig) -> Session {
        Session {
            id,
            created_at: crate::ids::now_millis(),
            settings,
            state: Mutex::new(SessionState {
                participants: Vec::new(),
                broadcasts: Replay::new(config.backlog_frames, config.default_replay_age()),
                feed: Feed::new(config.outbound_queue_frames, config.stalled_write_timeout),
                detached: Vec::new(),
                pending: PendingTokens::default(),
                closed: false,
                empty_since: Instant::now(),
                packer: FramePacker::default(),
            }),
        }
    }

    /// Copies the connection lists.
    pub fn snapshot(&self) -> SessionSnapshot {
        let st = self.state.lock();
        SessionSnapshot {
            participants: st.participants.clone(),
            pending: st.pending.in_creation_order(),
        }
    }

    /// Adds a pending connection, unless joined + pending connections already reach `limit`.
    pub fn add_pending(&self, entry: PendingEntry, limit: usize) -> Result<(), ServerError> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(ServerError::SessionNotFound);
        }
        if st.participants.len() + st.pending.len() >= limit {
            tracing::warn!(session = %self.id, limit, "connection refused: connection limit exceeded");
            return Err(ServerError::ConnectionLimitExceeded);
        }
        st.pending.insert(entry);
        Ok(())
    }

    /// Joins with a pending token: `participantJoined` to the others, then the response.
    pub fn join(&self, hub: &ServerState, req: JoinRequest<'_>) -> Result<Arc<Participant>, RpcError> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(RpcError::new(
                codes::SESSION_NOT_FOUND,
                format!("session {} not found", self.id),
            ));
        }
        let refused = || RpcError::new(codes::NOT_AUTHORIZED, "invalid or already used token");
        // Only the token's `token=` value (and `sessionId=`, when present) count: the host, port,
        // scheme and path only say where the client dials (proxies, other names of this host).
        let key = crate::ids::token_key(req.token).ok_or_else(refused)?;
        if key.session_id.is_some_and(|sid| sid != self.id) {
            return Err(refused());
        }
        if !st.pending.has_secret(key.secret) {
            return Err(refused());
        }
        // Checked after the token so that a full session tells nothing to a caller without one;
        // the token stays pending (nothing changes on refusal).
        let limit = hub.config.max_connections_per_session;
        if st.participants.len() >= limit {
            return Err(RpcError::new(
                codes::CONNECTION_LIMIT_EXCEEDED,
                format!("connection limit exceeded: session {} already holds {limit} connections", self.id),
            ));
        }
        let Some(pending) = st.pending.take_by_secret(key.secret) else {
            return Err(refused());
        };
        // After its own `participantJoined`, which goes to the others.
        let first_broadcast = st.next_broadcast() + 1;
        let reader = st.feed.reader(first_broadcast, pending.connection_id.clone(), req.socket.cut_handle());
        let participant = Arc::new(Participant::new(NewParticipant {
            connection_id: pending.connection_id,
            session_id: self.id.clone(),
            rpc_session_id: req.rpc_session_id.to_string(),
            created_at: pending.created_at,
            token: pending.token,
            platform: req.platform,
            client_data: req.client_data,
            server_data: pending.data,
            kurento_options: pending.kurento_options,
            ip: req.ip,
            profile: pending.profile,
            socket: req.socket.clone(),
            reader: reader.clone(),
            backlog_limit: hub.config.backlog_frames,
            replay_max_age: hub.config.default_replay_age(),
            broadcasts_from: first_broadcast,
        }));
        let joined = wire::participant_joined(&participant);
        let overflowed = broadcast(&mut st, &joined);
        req.socket
            .send(wire::join_response(req.request_id, &participant, &st.participants));
        req.socket.follow(st.feed.clone(), reader);
        st.participants.push(participant.clone());
        hub.rpc_sessions
            .insert(participant.rpc_session_id.clone(), participant.clone());
        drop(st);
        hub.evict_overflowed(&self.id, overflowed);
        tracing::info!(session = %self.id, connection = %participant.connection_id, "participant joined");
        Ok(participant)
    }

    /// Binds `participant` to a new socket (see [`Participant::resume`]) with no broadcast in between.
    /// `None` if the session or the participant has ended.
    pub fn resume(
        &self,
        participant: &Participant,
        socket: SocketLink,
        response: Frame,
        received: Option<u64>,
    ) -> Option<Delivery> {
        let st = self.state.lock();
        if st.closed {
            return None;
        }
        participant.resume(socket, response, received, &st.broadcasts, &st.feed)
    }

    /// The socket `socket_id` of `participant` went away (see [`Participant::detach`]): from now
    /// on broadcasts go to its backlog. `None` if it is bound to another socket or has ended.
    pub fn detach(&self, participant: &Arc<Participant>, socket_id: u64) -> Option<u64> {
        let mut st = self.state.lock();
        let generation = participant.detach(socket_id, &st.feed)?;
        if !st.detached.iter().any(|p| Arc::ptr_eq(p, participant)) {
            st.detached.push(participant.clone());
        }
        Some(generation)
    }

    /// Keeps broadcasts replayable for at least `age` (a client pinging less often than the
    /// default can be away for longer before it resumes).
    pub fn keep_replayable_for(&self, age: std::time::Duration) {
        let mut st = self.state.lock();
        if age > st.broadcasts.max_age() {
            st.broadcasts.set_max_age(age);
        }
    }

    /// Drops the broadcasts older than the replay age (the ring is pruned by every broadcast too;
    /// this is for a session that went quiet).
    pub fn forget_expired_broadcasts(&self) {
        self.forget_expired_broadcasts_at(Instant::now());
    }

    fn forget_expired_broadcasts_at(&self, now: Instant) {
        let mut st = self.state.lock();
        st.broadcasts.prune_at(now);
        st.packer.release_if_quiet(now);
    }

    /// The participant leaves by itself (`leaveRoom`): `participantLeft{disconnect}` to the others,
    /// then `reply`.
    pub fn leave(&self, hub: &ServerState, participant: &Arc<Participant>, reply: Option<Reply<'_>>) -> Result<(), ServerError> {
        self.remove(hub, Whom::Exactly(participant), LeaveReason::Disconnect, Removal::Leave, reply)
    }

    /// Evicts a participant: `participantLeft` to the others, `reply`, `participantEvicted` to
    /// everyone including the victim, then its socket is closed.
    pub fn evict(
        &self,
        hub: &ServerState,
        connection_id: &str,
        reason: LeaveReason,
        reply: Option<Reply<'_>>,
    ) -> Result<(), ServerError> {
        self.remove(hub, Whom::Id(connection_id), reason, Removal::Evict, reply)
    }

    /// Evicts with `networkDisconnect` if the participant is still detached in grace `generation`.
    pub fn evict_if_still_detached(&self, hub: &ServerState, connection_id: &str, generation: u64) {
        let still_detached = {
            let st = self.state.lock();
            st.participants
                .iter()
                .any(|p| p.connection_id == connection_id && p.is_detached_in(generation))
        };
        // Re-checked under the lock inside `remove_if`; the early check only avoids needless work.
        if still_detached {
            let _ = self.remove_if(
                hub,
                Whom::Id(connection_id),
                LeaveReason::NetworkDisconnect,
                Removal::Evict,
                None,
                |p| p.is_detached_in(generation),
            );
        }
    }

    /// REST delete connection: evicts an active one (`forceDisconnectByServer`) or invalidates a pending token.
    pub fn delete_connection(&self, hub: &ServerState, connection_id: &str) -> Result<(), ServerError> {
        {
            let mut st = self.state.lock();
            if st.closed {
                return Err(ServerError::SessionNotFound);
            }
            if st.pending.remove(connection_id).is_some() {
                return Ok(());
            }
        }
        self.evict(hub, connection_id, LeaveReason::ForceDisconnectByServer, None)
    }

    /// Changes role/record of an active or pending connection; returns whether it was found.
    /// An active participant is told each changed property (`connectionPropertyChanged`).
    pub fn update_connection(
        &self,
        hub: &ServerState,
        connection_id: &str,
        role: Option<Role>,
        record: Option<bool>,
    ) -> bool {
        let mut st = self.state.lock();
        if let Some(p) = st
            .participants
            .iter()
            .find(|p| p.connection_id == connection_id)
            .cloned()
        {
            let before = p.profile();
            p.update_profile(role, record);
            let after = p.profile();
            let mut changes = Vec::new();
            if after.role != before.role {
                changes.push(wire::connection_property_changed(
                    connection_id,
                    "role",
                    after.role.as_str(),
                ));
            }
            if after.record != before.record {
                let value = if after.record { "true" } else { "false" };
                changes.push(wire::connection_property_changed(connection_id, "record", value));
            }
            let stamp = st.next_broadcast();
            let overflowed = changes.iter().any(|frame| p.deliver_private(frame, stamp) == Delivery::Overflow);
            drop(st);
            if overflowed {
                hub.evict_overflowed(&self.id, vec![connection_id.to_string()]);
            }
            return true;
        }
        if let Some(profile) = st.pending.profile_mut(connection_id) {
            if let Some(role) = role {
                profile.role = role;
            }
            if let Some(record) = record {
                profile.record = record;
            }
            return true;
        }
        false
    }

    /// Sends a signal to `to` (all participants when `None` or empty), encoded once; then `reply`.
    /// An unknown recipient fails the whole call and nobody receives anything.
    pub fn signal(
        &self,
        hub: &ServerState,
        from: Option<&str>,
        to: Option<&[String]>,
        signal_type: &str,
        data: &str,
        reply: Option<Reply<'_>>,
    ) -> Result<(), ServerError> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(ServerError::SessionNotFound);
        }
        let recipients: Option<Vec<Arc<Participant>>> = match to {
            Some(ids) if !ids.is_empty() => {
                let mut chosen: Vec<Arc<Participant>> = Vec::with_capacity(ids.len());
                for id in ids {
                    let Some(p) = st.participants.iter().find(|p| &p.connection_id == id) else {
                        return Err(ServerError::UnknownRecipient(id.clone()));
                    };
                    if !chosen.iter().any(|c| Arc::ptr_eq(c, p)) {
                        chosen.push(p.clone());
                    }
                }
                Some(chosen)
            }
            _ if st.participants.is_empty() => return Err(ServerError::NoParticipants),
            _ => None,
        };
        let frame = wire::signal(from, signal_type, data);
        let overflowed = match recipients {
            Some(chosen) => deliver_private(&st, &chosen, &frame),
            None => broadcast(&mut st, &frame),
        };
        if let Some(reply) = reply {
            reply.socket.send(reply.frame);
        }
        drop(st);
        hub.evict_overflowed(&self.id, overflowed);
        Ok(())
    }

    /// Closes the session: every participant evicted with `reason`, pending tokens dropped,
    /// session unregistered.
    pub fn close(&self, hub: &ServerState, reason: LeaveReason) -> Result<(), ServerError> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(ServerError::SessionNotFound);
        }
        st.closed = true;
        st.pending.clear();
        let mut overflowed = Vec::new();
        while !st.participants.is_empty() {
            let victim = st.participants.remove(0);
            overflowed.extend(evict_locked(hub, &mut st, &victim, reason, Removal::Evict, None));
        }
        hub.unregister(self);
        drop(st);
        // Everyone is gone; overflowed victims need nothing more.
        drop(overflowed);
        tracing::info!(session = %self.id, reason = reason.as_str(), "session closed");
        Ok(())
    }

    /// Removes the session if nobody has been in it for `idle`; returns whether it did.
    pub fn remove_if_idle(&self, hub: &ServerState, idle: std::time::Duration) -> bool {
        let mut st = self.state.lock();
        if st.closed || !st.participants.is_empty() || st.empty_since.elapsed() < idle {
            return false;
        }
        st.closed = true;
        st.pending.clear();
        hub.unregister(self);
        tracing::info!(session = %self.id, "idle session removed");
        true
    }

    fn remove(
        &self,
        hub: &ServerState,
        whom: Whom<'_>,
        reason: LeaveReason,
        removal: Removal,
        reply: Option<Reply<'_>>,
    ) -> Result<(), ServerError> {
        self.remove_if(hub, whom, reason, removal, reply, |_| true)
    }

    fn remove_if(
        &self,
        hub: &ServerState,
        whom: Whom<'_>,
        reason: LeaveReason,
        removal: Removal,
        reply: Option<Reply<'_>>,
        condition: impl FnOnce(&Participant) -> bool,
    ) -> Result<(), ServerError> {
        let mut st = self.state.lock();
        if st.closed {
            return Err(ServerError::SessionNotFound);
        }
        let Some(index) = st.participants.iter().position(|p| whom.is(p)) else {
            return Err(ServerError::ConnectionNotFound);
        };
        if !condition(&st.participants[index]) {
            return Ok(());
        }
        let victim = st.participants.remove(index);
        let overflowed = evict_locked(hub, &mut st, &victim, reason, removal, reply);
        if st.participants.is_empty() {
            st.closed = true;
            st.pending.clear();
            hub.unregister(self);
            tracing::info!(session = %self.id, "last participant gone: session removed");
        }
        drop(st);
        hub.evict_overflowed(&self.id, overflowed);
        tracing::info!(session = %self.id, connection = %victim.connection_id, reason = reason.as_str(), "participant removed");
        Ok(())
    }
}

/// Notifies the removal of `victim` (already taken out of `st.participants`) in the protocol order.
fn evict_locked(
    hub: &ServerState,
    st: &mut SessionState,
    victim: &Arc<Participant>,
    reason: LeaveReason,
    removal: Removal,
    reply: Option<Reply<'_>>,
) -> Overflowed {
    victim.stop_following();
    let left = wire::participant_left(&victim.connection_id, reason);
    let mut overflowed = broadcast(st, &left);
    if let Some(reply) = reply {
        reply.socket.send(reply.frame);
    }
    if removal == Removal::Evict {
        let evicted = wire::participant_evicted(&victim.connection_id, reason);
        overflowed.extend(broadcast(st, &evicted));
        victim.deliver_private(&evicted, st.next_broadcast());
    }
    let socket = victim.end();
    if removal == Removal::Evict {
        if let Some(socket) = socket {
            socket.close(1000, "evicted");
        }
    }
    hub.rpc_sessions
        .remove_if(&victim.rpc_session_id, |_, p| Arc::ptr_eq(p, victim));
    if st.participants.is_empty() {
        st.empty_since = Instant::now();
    }
    overflowed
}

/// Sends `frame` to every participant: packed right after the session's previous broadcast
/// ([`FramePacker`]), appended once to the feed the attached sockets' writers follow, kept in the
/// backlog of those whose socket is gone, and kept once, in the session's ring, for resumes.
/// Returns who must be evicted: sockets that stopped reading, full backlogs.
fn broadcast(st: &mut SessionState, frame: &Frame) -> Overflowed {
    let now = Instant::now();
    let frame = &st.packer.pack(frame, now);
    st.broadcasts.prune_at(now);
    st.broadcasts.record_at(frame.clone(), now);
    let mut stalled = st.feed.append(frame.clone());
    debug_assert_eq!(st.feed.last_seq(), st.broadcasts.last_seq(), "the feed and the ring number alike");
    if !st.detached.is_empty() {
        st.detached.retain(|p| p.is_detached());
        stalled.extend(overflowed(&st.detached, |p| p.deliver_broadcast(frame)));
    }
    stalled
}

/// Sends `frame` to some participants, each keeping it in its own ring for resumes.
fn deliver_private(st: &SessionState, recipients: &[Arc<Participant>], frame: &Frame) -> Overflowed {
    let stamp = st.next_broadcast();
    overflowed(recipients, |p| p.deliver_private(frame, stamp))
}

fn overflowed(recipients: &[Arc<Participant>], deliver: impl Fn(&Participant) -> Delivery) -> Overflowed {
    recipients
        .iter()
        .filter(|p| deliver(p) == Delivery::Overflow)
        .map(|p| p.connection_id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;
    use crate::outbound::Outbound;

    fn settings() -> SessionSettings {
        SessionSettings {
            media_mode: "ROUTED".into(),
            recording_mode: "MANUAL".into(),
            default_recording_properties: Value::Null,
            custom_session_id: String::new(),
            forced_video_codec: "MEDIA_SERVER_PREFERRED".into(),
            allow_transcoding: false,
        }
    }

    fn pending(n: u32) -> PendingEntry {
        PendingEntry {
            connection_id: format!("con_test{n:06}"),
            token: format!("ws://h?sessionId=s&token=tok_limit{n:011}"),
            profile: Profile {
                role: Role::Publisher,
                record: true,
            },
            data: String::new(),
            kurento_options: Value::Null,
            created_at: 0,
        }
    }

    #[test]
    fn new_connections_stop_at_the_limit_of_joined_plus_pending() {
        let session = Session::new("s".into(), settings(), &ServerConfig::default());
        assert!(session.add_pending(pending(1), 2).is_ok());
        assert!(session.add_pending(pending(2), 2).is_ok());
        assert_eq!(
            session.add_pending(pending(3), 2),
            Err(ServerError::ConnectionLimitExceeded)
        );
        assert_eq!(session.snapshot().pending.len(), 2, "the refused one was not added");
    }

    /// A quiet session does not keep its last broadcasts past the replay age: the sweeper drops them.
    #[test]
    fn the_broadcasts_of_a_quiet_session_expire() {
        let hub = ServerState::new(ServerConfig::default(), "ws://h".into());
        let session = Session::new("s".into(), settings(), &hub.config);
        session.add_pending(pending(1), 10).unwrap();
        let (link, _sent, _kill) = SocketLink::new(8);
        let id = Value::from(1);
        let request = JoinRequest {
            token: "tok_limit00000000001",
            client_data: String::new(),
            platform: "test".into(),
            rpc_session_id: "rpc",
            socket: &link,
            ip: "127.0.0.1".into(),
            request_id: &id,
        };
        session.join(&hub, request).unwrap();
        let kept = |session: &Session| session.state.lock().broadcasts.kept_from(0).count();
        assert_eq!(kept(&session), 1, "the participantJoined is kept for resumes");
        let age = hub.config.default_replay_age();
        session.forget_expired_broadcasts_at(Instant::now() + age / 2);
        assert_eq!(kept(&session), 1, "younger than the replay age");
        session.forget_expired_broadcasts_at(Instant::now() + age + crate::replay::MARK_SPAN * 2);
        assert_eq!(kept(&session), 0, "older than the replay age");
    }

    /// The writers copy a socket's pending broadcasts one after the other: they sit next to each
    /// other in memory, in the order they were sent.
    #[test]
    fn consecutive_broadcasts_of_a_session_are_laid_out_in_sequence() {
        let hub = ServerState::new(ServerConfig::default(), "ws://h".into());
        let session = Session::new("s".into(), settings(), &hub.config);
        let mut links = Vec::new();
        for n in 1..=3 {
            session.add_pending(pending(n), 10).unwrap();
            let (link, _sent, _kill) = SocketLink::new(8);
            let token = format!("tok_limit{n:011}");
            let id = Value::from(n);
            let request = JoinRequest {
                token: &token,
                client_data: String::new(),
                platform: "test".into(),
                rpc_session_id: &token,
                socket: &link,
                ip: "127.0.0.1".into(),
                request_id: &id,
            };
            session.join(&hub, request).unwrap();
            links.push(link);
        }
        let st = session.state.lock();
        let joined: Vec<&Frame> = st.broadcasts.kept_from(0).map(|(_, frame)| frame).collect();
        assert_eq!(joined.len(), 3, "three participantJoined");
        assert!(joined.iter().all(|frame| frame.as_str().contains("participantJoined")));
        for pair in joined.windows(2) {
            assert_eq!(pair[0].as_bytes().as_ptr_range().end, pair[1].as_bytes().as_ptr(), "next to each other");
        }
    }

    /// Tokens issued under a larger limit (e.g. before a restart with a smaller one) cannot push
    /// the joined participants beyond the limit: the extra `joinRoom` gets 10007 and changes nothing.
    #[test]
    fn a_join_beyond_the_limit_is_refused_with_10007_and_the_token_stays_pending() {
        let hub = ServerState::new(
            ServerConfig {
                max_connections_per_session: 1,
                ..ServerConfig::default()
            },
            "ws://h".into(),
        );
        let session = Session::new("s".into(), settings(), &ServerConfig::default());
        session.add_pending(pending(1), 10).unwrap();
        session.add_pending(pending(2), 10).unwrap();
        let (first_link, mut first_sent, _first_kill) = SocketLink::new(8);
        let id = Value::from(1);
        let join = |token: &'static str, socket: &SocketLink| {
            session.join(
                &hub,
                JoinRequest {
                    token,
                    client_data: String::new(),
                    platform: "test".into(),
                    rpc_session_id: "rpc",
                    socket,
                    ip: "127.0.0.1".into(),
                    request_id: &id,
                },
            )
        };
        join("tok_limit00000000001", &first_link).unwrap();
        assert!(matches!(first_sent.try_recv(), Some(Outbound::Text(_))), "join response");

        let (second_link, mut second_sent, _second_kill) = SocketLink::new(8);
        let Err(error) = join("tok_limit00000000002", &second_link) else {
            panic!("the second join must be refused");
        };
        assert_eq!(error.code, codes::CONNECTION_LIMIT_EXCEEDED);
        assert!(error.message.contains("connection limit exceeded"), "{}", error.message);
        // The native client maps any joinRoom error mentioning "limit" to ConnectionLimitExceeded.
        assert!(error.message.to_ascii_lowercase().contains("limit"));
        assert!(second_sent.try_recv().is_none(), "the refused socket got nothing");
        assert!(first_sent.try_recv().is_none(), "nobody was told of a join");
        let snapshot = session.snapshot();
        assert_eq!(snapshot.participants.len(), 1);
        assert_eq!(snapshot.pending.len(), 1, "the token is still usable later");
    }
}
