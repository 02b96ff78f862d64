//! The pending connections of one session: made by REST, waiting for their `joinRoom`.
//!
//! Every join looks its token up here, and a session may hold thousands of pending tokens (an app
//! server hands them out ahead of a webinar), so the lookup is a hash of the token's secret, not a
//! scan: a scan made an N-client join storm cost N²/2 token comparisons under the session's lock.
//! The map's hasher is SipHash with a per-process random key, so the time a lookup takes tells a
//! caller nothing it can use to guess a secret. REST still lists the tokens in creation order.
//! A map emptied to a quarter of its room gives the room back, so a session does not keep the
//! table of its busiest moment for the rest of its life.

use std::collections::HashMap;
use std::hash::Hash;

use crate::ids::token_secret;
use crate::participant::Profile;
use crate::session::PendingEntry;

/// Room (entries) below which a map is never shrunk: small tables cost little, and are not worth
/// re-hashing.
const KEEP_ROOM: usize = 64;

/// Pending connections, by connection id and by token secret.
#[derive(Default)]
pub struct PendingTokens {
    /// Connection id -> (creation number, entry).
    by_connection: HashMap<String, (u64, PendingEntry)>,
    /// Token secret (`tok_...`) -> connection id.
    connection_of_secret: HashMap<String, String>,
    next_number: u64,
}

impl PendingTokens {
    /// Pending connections held.
    pub fn len(&self) -> usize {
        self.by_connection.len()
    }

    /// Adds `entry`. The server makes connection ids and secrets unique; an entry reusing either
    /// replaces the one holding it, so the two indexes never disagree.
    pub fn insert(&mut self, entry: PendingEntry) {
        self.remove(&entry.connection_id);
        let secret = token_secret(&entry.token).to_string();
        if let Some(previous) = self.connection_of_secret.insert(secret, entry.connection_id.clone()) {
            self.by_connection.remove(&previous);
        }
        self.next_number += 1;
        self.by_connection.insert(entry.connection_id.clone(), (self.next_number, entry));
    }

    /// True when a pending connection has the token secret `secret`.
    pub fn has_secret(&self, secret: &str) -> bool {
        self.connection_of_secret.contains_key(secret)
    }

    /// Removes and returns the pending connection with the token secret `secret`.
    pub fn take_by_secret(&mut self, secret: &str) -> Option<PendingEntry> {
        let connection_id = self.connection_of_secret.remove(secret)?;
        let entry = self.by_connection.remove(&connection_id).map(|(_, entry)| entry);
        self.give_back_room();
        entry
    }

    /// Removes and returns the pending connection `connection_id`.
    pub fn remove(&mut self, connection_id: &str) -> Option<PendingEntry> {
        let (_, entry) = self.by_connection.remove(connection_id)?;
        self.connection_of_secret.remove(token_secret(&entry.token));
        self.give_back_room();
        Some(entry)
    }

    /// Entries the maps have room for without growing (the smaller of the two).
    #[cfg(test)]
    fn room(&self) -> usize {
        self.by_connection.capacity().min(self.connection_of_secret.capacity())
    }

    /// Shrinks a map emptied to a quarter of its room, to twice what it holds: under churn a burst
    /// of tokens (an app server handing them out ahead of a webinar, or joins the server was late
    /// for) would otherwise leave every session it touched holding its peak table. The map must
    /// double again before it grows, so the re-hashing stays a constant cost per entry.
    fn give_back_room(&mut self) {
        shrink_when_sparse(&mut self.by_connection);
        shrink_when_sparse(&mut self.connection_of_secret);
    }

    /// The role and record of the pending connection `connection_id`, to change them.
    pub fn profile_mut(&mut self, connection_id: &str) -> Option<&mut Profile> {
        self.by_connection.get_mut(connection_id).map(|(_, entry)| &mut entry.profile)
    }

    /// Copies of the pending connections, oldest first.
    pub fn in_creation_order(&self) -> Vec<PendingEntry> {
        let mut numbered: Vec<&(u64, PendingEntry)> = self.by_connection.values().collect();
        numbered.sort_unstable_by_key(|(number, _)| *number);
        numbered.into_iter().map(|(_, entry)| entry.clone()).collect()
    }

    /// Drops them all.
    pub fn clear(&mut self) {
        self.by_connection.clear();
        self.connection_of_secret.clear();
    }
}

fn shrink_when_sparse<K: Eq + Hash, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > KEEP_ROOM && map.len() * 4 < map.capacity() {
        map.shrink_to((map.len() * 2).max(KEEP_ROOM / 2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;
    use serde_json::Value;

    fn entry(n: u32) -> PendingEntry {
        PendingEntry {
            connection_id: format!("con_{n}"),
            token: format!("ws://h?sessionId=s&token=tok_{n}"),
            profile: Profile { role: Role::Publisher, record: true },
            data: String::new(),
            kurento_options: Value::Null,
            created_at: 0,
        }
    }

    fn ids(entries: &[PendingEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.connection_id.as_str()).collect()
    }

    #[test]
    fn a_secret_finds_its_connection_once_in_any_order() {
        let mut pending = PendingTokens::default();
        for n in 0..1000 {
            pending.insert(entry(n));
        }
        for n in (0..1000).rev().step_by(7) {
            let secret = format!("tok_{n}");
            assert!(pending.has_secret(&secret));
            assert_eq!(pending.take_by_secret(&secret).map(|e| e.connection_id), Some(format!("con_{n}")));
            assert!(!pending.has_secret(&secret), "a token is used once");
            assert!(pending.take_by_secret(&secret).is_none());
        }
        assert_eq!(pending.len(), 1000 - 143);
    }

    #[test]
    fn a_session_emptied_of_a_burst_of_tokens_gives_the_room_back() {
        let mut pending = PendingTokens::default();
        for n in 0..10_000 {
            pending.insert(entry(n));
        }
        assert!(pending.room() >= 10_000);
        for n in 10..10_000 {
            assert!(pending.take_by_secret(&format!("tok_{n}")).is_some());
        }
        assert!(pending.room() <= 4 * KEEP_ROOM, "room for {} left for 10 tokens", pending.room());
        for n in 0..10 {
            assert_eq!(pending.take_by_secret(&format!("tok_{n}")).map(|e| e.connection_id), Some(format!("con_{n}")), "still found after the shrinking");
        }
    }

    #[test]
    fn a_steady_trickle_of_tokens_does_not_re_hash_at_every_use() {
        let mut pending = PendingTokens::default();
        for n in 0..1000 {
            pending.insert(entry(n));
        }
        for n in 0..500 {
            assert!(pending.take_by_secret(&format!("tok_{n}")).is_some());
            assert!(pending.room() >= 999, "one used of 1000: not shrunk (room {})", pending.room());
            pending.insert(entry(1000 + n));
        }
    }

    #[test]
    fn an_unknown_secret_changes_nothing() {
        let mut pending = PendingTokens::default();
        pending.insert(entry(1));
        assert!(!pending.has_secret("tok_2"));
        assert!(pending.take_by_secret("tok_2").is_none());
        assert!(pending.take_by_secret("").is_none());
        assert_eq!(ids(&pending.in_creation_order()), ["con_1"]);
    }

    #[test]
    fn removing_by_connection_id_also_invalidates_the_secret() {
        let mut pending = PendingTokens::default();
        pending.insert(entry(1));
        pending.insert(entry(2));
        assert_eq!(pending.remove("con_1").map(|e| e.token), Some("ws://h?sessionId=s&token=tok_1".into()));
        assert!(!pending.has_secret("tok_1"));
        assert!(pending.remove("con_1").is_none());
        assert!(pending.has_secret("tok_2"));
    }

    #[test]
    fn rest_lists_them_in_creation_order_after_removals() {
        let mut pending = PendingTokens::default();
        for n in [5, 3, 9, 1, 7] {
            pending.insert(entry(n));
        }
        pending.remove("con_9");
        pending.take_by_secret("tok_5");
        pending.insert(entry(9));
        assert_eq!(ids(&pending.in_creation_order()), ["con_3", "con_1", "con_7", "con_9"]);
        pending.clear();
        assert!(pending.len() == 0 && !pending.has_secret("tok_3"));
    }

    #[test]
    fn a_reused_connection_id_or_secret_replaces_the_holder() {
        let mut pending = PendingTokens::default();
        pending.insert(entry(1));
        let mut same_secret = entry(2);
        same_secret.token = entry(1).token;
        pending.insert(same_secret);
        assert_eq!(ids(&pending.in_creation_order()), ["con_2"]);
        assert_eq!(pending.take_by_secret("tok_1").map(|e| e.connection_id), Some("con_2".into()));
        assert_eq!(pending.len(), 0);
    }

    #[test]
    fn the_profile_of_a_pending_connection_can_change() {
        let mut pending = PendingTokens::default();
        pending.insert(entry(1));
        pending.profile_mut("con_1").unwrap().role = Role::Moderator;
        assert!(pending.profile_mut("con_2").is_none());
        assert_eq!(pending.take_by_secret("tok_1").unwrap().profile.role, Role::Moderator);
    }
}
