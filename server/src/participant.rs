//! An active participant (joined connection) and where its notifications go: its socket (whose
//! writer follows the session's feed for broadcasts), or a bounded backlog while its socket is gone
//! inside the resume grace.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::missed::{missed, Private};
use crate::model::Role;
use crate::outbound::feed::{Feed, Reader};
use crate::outbound::{SendOutcome, SocketLink};
use crate::replay::Replay;
use crate::rpc::Frame;

/// Role and record flag; changeable through REST PATCH.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// Current role.
    pub role: Role,
    /// Whether the connection would be recorded.
    pub record: bool,
}

enum Link {
    /// Live socket, whose writer takes the session's broadcasts from the feed through `reader`
    /// (`None` once it stopped following); `undelivered` keeps the notifications sent to it alone
    /// after its writer stopped but before the socket task noticed, stamped like [`Private`] (with
    /// what its reader never took, they become the resume backlog).
    Attached {
        socket: SocketLink,
        reader: Option<Arc<Reader>>,
        undelivered: VecDeque<(u64, Frame)>,
    },
    Detached {
        backlog: VecDeque<Frame>,
        generation: u64,
    },
    Ended,
}

struct LinkState {
    link: Link,
    /// What was sent to this participant alone (the session keeps what it broadcast).
    private: Replay<Private>,
}

/// Result of delivering a notification.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Queued on the socket or in the backlog (or dropped because the participant has ended).
    Done,
    /// The socket queue or the backlog overflowed: the participant must be evicted.
    Overflow,
}

/// A joined connection.
pub struct Participant {
    /// Connection id.
    pub connection_id: String,
    /// Session id.
    pub session_id: String,
    /// RPC session id presented in `connect` to resume.
    pub rpc_session_id: String,
    /// When the connection (token) was created, ms.
    pub created_at: i64,
    /// When it joined, ms.
    pub active_at: i64,
    /// Full token it joined with (never logged).
    pub token: String,
    /// `joinRoom.platform`.
    pub platform: String,
    /// `joinRoom.metadata`.
    pub client_data: String,
    /// REST `data`.
    pub server_data: String,
    /// Kurento options given at creation (echoed by REST).
    pub kurento_options: serde_json::Value,
    /// Remote address, when known.
    pub ip: String,
    entry_json: String,
    /// Number of the first session broadcast this participant got.
    broadcasts_from: u64,
    profile: Mutex<Profile>,
    state: Mutex<LinkState>,
    backlog_limit: usize,
    next_generation: Mutex<u64>,
}

/// Everything needed to create a participant.
pub struct NewParticipant {
    /// Connection id (from the pending connection).
    pub connection_id: String,
    /// Session id.
    pub session_id: String,
    /// RPC session id of the joining socket.
    pub rpc_session_id: String,
    /// Creation time of the pending connection.
    pub created_at: i64,
    /// Token used.
    pub token: String,
    /// Client platform string.
    pub platform: String,
    /// Client metadata.
    pub client_data: String,
    /// Server data.
    pub server_data: String,
    /// Kurento options.
    pub kurento_options: serde_json::Value,
    /// Remote address.
    pub ip: String,
    /// Role and record.
    pub profile: Profile,
    /// The joining socket.
    pub socket: SocketLink,
    /// Its position in the session's feed.
    pub reader: Arc<Reader>,
    /// Backlog bound (also bounds the ring of private notifications).
    pub backlog_limit: usize,
    /// How long sent notifications stay replayable.
    pub replay_max_age: Duration,
    /// Number of the session's next broadcast: the first this participant gets.
    pub broadcasts_from: u64,
}

impl Participant {
    /// Creates a participant attached to its joining socket.
    pub fn new(p: NewParticipant) -> Participant {
        let active_at = crate::ids::now_millis();
        let metadata = joined_metadata(&p.client_data, &p.server_data);
        let entry_json = crate::wire::remote_entry_json(&p.connection_id, active_at, &metadata);
        Participant {
            entry_json,
            broadcasts_from: p.broadcasts_from,
            connection_id: p.connection_id,
            session_id: p.session_id,
            rpc_session_id: p.rpc_session_id,
            created_at: p.created_at,
            active_at,
            token: p.token,
            platform: p.platform,
            client_data: p.client_data,
            server_data: p.server_data,
            kurento_options: p.kurento_options,
            ip: p.ip,
            profile: Mutex::new(p.profile),
            state: Mutex::new(LinkState {
                link: Link::Attached {
                    socket: p.socket,
                    reader: Some(p.reader),
                    undelivered: VecDeque::new(),
                },
                private: Replay::new(p.backlog_limit, p.replay_max_age),
            }),
            backlog_limit: p.backlog_limit,
            next_generation: Mutex::new(0),
        }
    }

    /// Current role and record flag.
    pub fn profile(&self) -> Profile {
        *self.profile.lock()
    }

    /// Replaces role and/or record flag.
    pub fn update_profile(&self, role: Option<Role>, record: Option<bool>) {
        let mut profile = self.profile.lock();
        if let Some(role) = role {
            profile.role = role;
        }
        if let Some(record) = record {
            profile.record = record;
        }
    }

    /// `metadata` as the clients see it: clientData, serverData, or both joined by `%/%`.
    pub fn metadata(&self) -> String {
        joined_metadata(&self.client_data, &self.server_data)
    }

    /// Pre-encoded `{id, createdAt, metadata}` as other participants see this one.
    pub fn entry_json(&self) -> &str {
        &self.entry_json
    }

    /// Keeps a session broadcast in the backlog while the socket is gone (an attached socket's
    /// writer takes it from the session's feed).
    pub fn deliver_broadcast(&self, frame: &Frame) -> Delivery {
        let mut state = self.state.lock();
        match &mut state.link {
            Link::Detached { backlog, .. } => self.keep(backlog, frame),
            _ => Delivery::Done,
        }
    }

    /// Sends a notification meant for this participant alone, sent when the session's next broadcast
    /// would be number `stamp`; it is kept for replay.
    pub fn deliver_private(&self, frame: &Frame, stamp: u64) -> Delivery {
        let mut state = self.state.lock();
        if matches!(state.link, Link::Ended) {
            return Delivery::Done;
        }
        state.private.record_at(Private { stamp, frame: frame.clone() }, Instant::now());
        match &mut state.link {
            Link::Attached { socket, undelivered, .. } => match socket.try_send(frame.clone()) {
                SendOutcome::Queued => Delivery::Done,
                SendOutcome::Full => Delivery::Overflow,
                SendOutcome::Closed if undelivered.len() >= self.backlog_limit => Delivery::Overflow,
                SendOutcome::Closed => {
                    undelivered.push_back((stamp, frame.clone()));
                    Delivery::Done
                }
            },
            Link::Detached { backlog, .. } => self.keep(backlog, frame),
            Link::Ended => Delivery::Done,
        }
    }

    fn keep(&self, backlog: &mut VecDeque<Frame>, frame: &Frame) -> Delivery {
        if backlog.len() >= self.backlog_limit {
            Delivery::Overflow
        } else {
            backlog.push_back(frame.clone());
            Delivery::Done
        }
    }

    /// The socket stops taking the session's broadcasts after those sent so far (the participant
    /// is leaving the session).
    pub fn stop_following(&self) {
        if let Link::Attached { socket, reader, .. } = &mut self.state.lock().link {
            if let Some(reader) = reader.take() {
                // If the writer is gone, the reader stops at once (nobody will take what it holds).
                if !socket.unfollow() {
                    reader.stop();
                }
            }
        }
    }

    /// The socket `socket_id` went away: start buffering, from what its writer never took from
    /// `feed`. Returns the grace generation to check when the grace timer fires, or `None` if the
    /// participant is bound to another socket or has ended. The caller holds the session's lock.
    pub fn detach(&self, socket_id: u64, feed: &Feed) -> Option<u64> {
        let mut state = self.state.lock();
        let link = &mut state.link;
        match &*link {
            Link::Attached { socket, .. } if socket.id() == socket_id => {
                let generation = self.bump_generation();
                let backlog = match std::mem::replace(link, Link::Ended) {
                    Link::Attached { reader, undelivered, .. } => never_sent(feed, reader, undelivered),
                    _ => VecDeque::new(),
                };
                *link = Link::Detached { backlog, generation };
                Some(generation)
            }
            _ => None,
        }
    }

    /// True while the socket is gone inside the resume grace.
    pub fn is_detached(&self) -> bool {
        matches!(&self.state.lock().link, Link::Detached { .. })
    }

    /// True when the participant is still detached in grace generation `generation`.
    pub fn is_detached_in(&self, generation: u64) -> bool {
        matches!(&self.state.lock().link, Link::Detached { generation: g, .. } if *g == generation)
    }

    /// Binds the participant to a new socket: first `response`, then what it missed in order, then
    /// live notifications (the new socket follows `feed`). With `received` (notifications the
    /// client got on this RPC session) the missed ones come from the replay rings (the session's
    /// `broadcasts` and the participant's own): exactly those numbered after `received`; without
    /// it, those the old socket never got. An older socket still attached is killed. The caller
    /// holds the session's lock, so no broadcast happens meanwhile. `None` if the participant has
    /// ended; `Some(Delivery::Overflow)` if the new socket could not take it all.
    pub fn resume(
        &self,
        socket: SocketLink,
        response: Frame,
        received: Option<u64>,
        broadcasts: &Replay<Frame>,
        feed: &Arc<Feed>,
    ) -> Option<Delivery> {
        let mut state = self.state.lock();
        let queued_since_loss = match std::mem::replace(&mut state.link, Link::Ended) {
            Link::Ended => return None,
            Link::Attached {
                socket: old,
                reader,
                undelivered,
            } => {
                if old.id() != socket.id() {
                    old.kill();
                }
                never_sent(feed, reader, undelivered)
            }
            Link::Detached { backlog, .. } => {
                self.bump_generation();
                backlog
            }
        };
        let missed: Vec<Frame> = match received {
            None => queued_since_loss.into_iter().collect(),
            Some(received) => {
                state.private.prune();
                let missed = missed(received, self.broadcasts_from, broadcasts, &state.private);
                let last = missed.last;
                if missed.gap {
                    tracing::warn!(connection = %self.connection_id, received, last,
                        "resume: some missed notifications are no longer kept; replaying all kept ones");
                }
                if received > last {
                    tracing::warn!(connection = %self.connection_id, received, last, "resume: client claims more than was sent");
                }
                missed.frames
            }
        };
        let mut delivery = Delivery::Done;
        if !socket.send(response) {
            delivery = Delivery::Overflow;
        }
        for frame in missed {
            if delivery == Delivery::Done && !socket.send(frame) {
                delivery = Delivery::Overflow;
            }
        }
        let reader = feed.reader(feed.last_seq() + 1, self.connection_id.clone(), socket.cut_handle());
        socket.follow(feed.clone(), reader.clone());
        state.link = Link::Attached {
            socket,
            reader: Some(reader),
            undelivered: VecDeque::new(),
        };
        Some(delivery)
    }

    /// Drops private notifications older than the replay age; `age` (the socket's ping timeout
    /// plus the resume grace) becomes the new age bound.
    pub fn prune_replay(&self, age: Duration) {
        let mut state = self.state.lock();
        state.private.set_max_age(age);
    }

    /// Ends the participant: nothing more is delivered. Returns the socket it was attached to.
    /// Called after [`Participant::stop_following`], once the removal is broadcast.
    pub fn end(&self) -> Option<SocketLink> {
        let mut state = self.state.lock();
        state.private.clear();
        match std::mem::replace(&mut state.link, Link::Ended) {
            Link::Attached { socket, reader, .. } => {
                debug_assert!(reader.is_none(), "the socket stopped following before the removal was broadcast");
                Some(socket)
            }
            _ => None,
        }
    }

    /// True once ended (left or evicted).
    pub fn has_ended(&self) -> bool {
        matches!(&self.state.lock().link, Link::Ended)
    }

    fn bump_generation(&self) -> u64 {
        let mut next = self.next_generation.lock();
        *next += 1;
        *next
    }
}

/// What an attached socket never got, in order: the broadcasts its `reader` did not take from
/// `feed` (the reader stops), merged with the `undelivered` notifications by their stamps.
fn never_sent(feed: &Feed, reader: Option<Arc<Reader>>, undelivered: VecDeque<(u64, Frame)>) -> VecDeque<Frame> {
    let (first, untaken) = match reader {
        Some(reader) => feed.detach(&reader),
        None => (0, Vec::new()),
    };
    let mut broadcasts = (first..).zip(untaken).peekable();
    let mut merged = VecDeque::new();
    for (stamp, frame) in undelivered {
        while let Some((_, broadcast)) = broadcasts.next_if(|&(seq, _)| seq < stamp) {
            merged.push_back(broadcast);
        }
        merged.push_back(frame);
    }
    merged.extend(broadcasts.map(|(_, frame)| frame));
    merged
}

fn joined_metadata(client_data: &str, server_data: &str) -> String {
    match (client_data.is_empty(), server_data.is_empty()) {
        (false, false) => format!("{client_data}%/%{server_data}"),
        (false, true) => client_data.to_string(),
        _ => server_data.to_string(),
    }
}
