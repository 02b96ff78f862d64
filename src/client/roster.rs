//! The roster: other connections in join order and their streams, with cheap snapshots
//! (a `Vec` of `Arc` clones), amortized O(1) joins and O(log n) leaves.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use hashbrown::hash_table::{Entry, HashTable};

use super::types::{Connection, Stream};

/// A roster value and the id it is found by.
trait Keyed: Clone {
    fn key(&self) -> &str;
}

impl Keyed for Arc<Connection> {
    fn key(&self) -> &str {
        self.id()
    }
}

/// A stream is found by the id of the connection that publishes it.
impl Keyed for Arc<Stream> {
    fn key(&self) -> &str {
        self.connection.id()
    }
}

/// An entry of the id index: the value (found by its own key, so the index needs no copy of the
/// id), the key's hash (growing the index never reads the keys again) and its place in join order.
struct Indexed<V> {
    hash: u64,
    seq: u64,
    value: V,
}

/// Below this many vacated slots the join-order list is never compacted.
const COMPACT_AT_LEAST: usize = 64;

/// Values keyed by id, iterated in insertion order. A lookup by id is one hash probe; the join-order
/// list holds `(sequence number, value)` sorted by sequence number, a left value leaving an empty
/// slot (found by binary search) until more than half the slots are empty.
struct OrderedById<V> {
    next_seq: u64,
    /// Keys are hashed with a per-roster random key (SipHash), as `std::collections::HashMap` does.
    hasher: RandomState,
    by_id: HashTable<Indexed<V>>,
    order: Vec<(u64, Option<V>)>,
    vacated: usize,
}

impl<V: Keyed> OrderedById<V> {
    fn new() -> Self {
        OrderedById { next_seq: 0, hasher: RandomState::new(), by_id: HashTable::new(), order: Vec::new(), vacated: 0 }
    }

    fn find(&self, id: &str) -> Option<&Indexed<V>> {
        let hash = self.hasher.hash_one(id);
        self.by_id.find(hash, |entry| entry.hash == hash && entry.value.key() == id)
    }

    /// Adds `value` last; false (and no change) when its key is already present.
    fn insert(&mut self, value: V) -> bool {
        let key = value.key();
        let hash = self.hasher.hash_one(key);
        match self.by_id.entry(hash, |entry| entry.hash == hash && entry.value.key() == key, |entry| entry.hash) {
            Entry::Occupied(_) => false,
            Entry::Vacant(slot) => {
                let seq = self.next_seq;
                self.next_seq += 1;
                slot.insert(Indexed { hash, seq, value: value.clone() });
                self.order.push((seq, Some(value)));
                true
            }
        }
    }

    fn get(&self, id: &str) -> Option<&V> {
        self.find(id).map(|entry| &entry.value)
    }

    fn remove(&mut self, id: &str) -> Option<V> {
        let hash = self.hasher.hash_one(id);
        let (entry, _) = self.by_id.find_entry(hash, |entry| entry.hash == hash && entry.value.key() == id).ok()?.remove();
        if let Ok(slot) = self.order.binary_search_by_key(&entry.seq, |(seq, _)| *seq) {
            self.order[slot].1 = None;
            self.vacated += 1;
        }
        if self.vacated >= COMPACT_AT_LEAST && self.vacated * 2 > self.order.len() {
            self.order.retain(|(_, value)| value.is_some());
            self.vacated = 0;
            // After a mass leave, give the room back (keeping twice what is left to grow into).
            if self.order.capacity() > 4 * self.order.len() {
                self.order.shrink_to(2 * self.order.len());
            }
        }
        Some(entry.value)
    }

    fn snapshot(&self) -> Vec<V> {
        let mut values = Vec::with_capacity(self.by_id.len());
        values.extend(self.order.iter().filter_map(|(_, value)| value.clone()));
        values
    }
}

/// Other connections of the session (the own one is never here) and the streams they publish
/// (at most one per connection, as in OpenVidu 2.x).
pub(crate) struct Roster {
    connections: OrderedById<Arc<Connection>>,
    /// Keyed by the publishing connection's id.
    streams: OrderedById<Arc<Stream>>,
}

impl Roster {
    /// An empty roster.
    pub fn new() -> Roster {
        Roster { connections: OrderedById::new(), streams: OrderedById::new() }
    }

    /// Adds a connection; false (and no change) when the id is already present.
    pub fn add_connection(&mut self, connection: Arc<Connection>) -> bool {
        self.connections.insert(connection)
    }

    /// The connection with this id.
    pub fn connection(&self, id: &str) -> Option<Arc<Connection>> {
        self.connections.get(id).cloned()
    }

    /// Removes a connection and its stream: (connection, stream it published).
    pub fn remove_connection(&mut self, id: &str) -> Option<(Arc<Connection>, Option<Arc<Stream>>)> {
        let connection = self.connections.remove(id)?;
        let stream = self.streams.remove(id);
        Some((connection, stream))
    }

    /// Records the stream a connection publishes; false when that connection already has this stream.
    pub fn add_stream(&mut self, stream: Arc<Stream>) -> bool {
        let owner = stream.key();
        if self.streams.get(owner).is_some_and(|s| s.id == stream.id) {
            return false;
        }
        self.streams.remove(owner);
        self.streams.insert(stream)
    }

    /// Removes the stream published by this connection.
    pub fn remove_stream_of(&mut self, connection_id: &str) -> Option<Arc<Stream>> {
        self.streams.remove(connection_id)
    }

    /// The connections in join order.
    pub fn connections(&self) -> Vec<Arc<Connection>> {
        self.connections.snapshot()
    }

    /// The streams in publication order.
    pub fn streams(&self) -> Vec<Arc<Stream>> {
        self.streams.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(id: &str) -> Arc<Connection> {
        Arc::new(super::super::wire::connection_from_id(id, &Arc::from("s")))
    }

    fn stream(id: &str, owner: &Arc<Connection>) -> Arc<Stream> {
        Arc::new(Stream {
            id: id.into(),
            connection: owner.clone(),
            has_audio: true,
            has_video: true,
            video_type: "CAMERA".into(),
            created_at_ms: 0,
            name: String::new(),
        })
    }

    #[test]
    fn keeps_join_order_and_ignores_duplicates() {
        let mut r = Roster::new();
        assert!(r.add_connection(conn("b")));
        assert!(r.add_connection(conn("a")));
        assert!(!r.add_connection(conn("b")), "a second join of the same id is ignored");
        assert!(r.add_connection(conn("c")));
        let ids: Vec<_> = r.connections().iter().map(|c| c.id().to_string()).collect();
        assert_eq!(ids, ["b", "a", "c"]);
        assert!(r.remove_connection("a").is_some());
        assert!(r.remove_connection("a").is_none());
        let ids: Vec<_> = r.connections().iter().map(|c| c.id().to_string()).collect();
        assert_eq!(ids, ["b", "c"]);
    }

    #[test]
    fn join_order_survives_many_leaves_and_rejoins() {
        let mut r = Roster::new();
        for i in 0..1000 {
            assert!(r.add_connection(conn(&format!("con_{i}"))));
        }
        // Every even member leaves (the join-order list is compacted on the way), then member 0 rejoins.
        for i in (0..1000).step_by(2) {
            assert_eq!(r.remove_connection(&format!("con_{i}")).unwrap().0.id(), format!("con_{i}"));
        }
        assert!(r.add_connection(conn("con_0")), "a member that left can join again");
        let ids: Vec<_> = r.connections().iter().map(|c| c.id().to_string()).collect();
        let mut expected: Vec<_> = (1..1000).step_by(2).map(|i| format!("con_{i}")).collect();
        expected.push("con_0".into());
        assert_eq!(ids, expected, "the rejoined member comes last");
        assert!(r.connection("con_2").is_none());
        assert!(r.connection("con_3").is_some());
        assert!(r.remove_connection("con_2").is_none(), "a second leave changes nothing");
        assert_eq!(r.connections().len(), 501);
    }

    #[test]
    fn leaving_removes_the_stream_too() {
        let mut r = Roster::new();
        let b = conn("b");
        r.add_connection(b.clone());
        assert!(r.add_stream(stream("str_b", &b)));
        assert!(!r.add_stream(stream("str_b", &b)), "the same stream twice is no change");
        let (left, s) = r.remove_connection("b").unwrap();
        assert_eq!(left.id(), "b");
        assert_eq!(s.unwrap().id, "str_b");
        assert!(r.streams().is_empty());
    }

    #[test]
    fn snapshot_of_ten_thousand_is_arc_clones() {
        let mut r = Roster::new();
        for i in 0..10_000 {
            r.add_connection(conn(&format!("con_{i}")));
        }
        let snap = r.connections();
        assert_eq!(snap.len(), 10_000);
        assert!(Arc::ptr_eq(&snap[42], &r.connection("con_42").unwrap()));
    }
}
