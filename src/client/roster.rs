//! The roster: other connections in join order and their streams, with cheap snapshots
//! (a `Vec` of `Arc` clones) and O(log n) joins and leaves.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::types::{Connection, Stream};

/// Values keyed by id, iterated in insertion order. A lookup by id is one hash probe (the value is
/// kept next to its sequence number); the ordered map serves snapshots and keeps join order.
struct OrderedById<V> {
    next_seq: u64,
    by_seq: BTreeMap<u64, V>,
    by_id: HashMap<String, (u64, V)>,
}

impl<V: Clone> OrderedById<V> {
    fn new() -> Self {
        OrderedById { next_seq: 0, by_seq: BTreeMap::new(), by_id: HashMap::new() }
    }

    fn insert(&mut self, id: &str, value: V) -> bool {
        if self.by_id.contains_key(id) {
            return false;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_seq.insert(seq, value.clone());
        self.by_id.insert(id.to_string(), (seq, value));
        true
    }

    fn get(&self, id: &str) -> Option<&V> {
        self.by_id.get(id).map(|(_, value)| value)
    }

    fn remove(&mut self, id: &str) -> Option<V> {
        let (seq, value) = self.by_id.remove(id)?;
        self.by_seq.remove(&seq);
        Some(value)
    }

    fn snapshot(&self) -> Vec<V> {
        self.by_seq.values().cloned().collect()
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
        let id = connection.id.clone();
        self.connections.insert(&id, connection)
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
        let owner = stream.connection.id.clone();
        if self.streams.get(&owner).is_some_and(|s| s.id == stream.id) {
            return false;
        }
        self.streams.remove(&owner);
        self.streams.insert(&owner, stream)
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
        Arc::new(super::super::wire::connection_from_id(id, "s"))
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
        let ids: Vec<_> = r.connections().iter().map(|c| c.id.clone()).collect();
        assert_eq!(ids, ["b", "a", "c"]);
        assert!(r.remove_connection("a").is_some());
        assert!(r.remove_connection("a").is_none());
        let ids: Vec<_> = r.connections().iter().map(|c| c.id.clone()).collect();
        assert_eq!(ids, ["b", "c"]);
    }

    #[test]
    fn leaving_removes_the_stream_too() {
        let mut r = Roster::new();
        let b = conn("b");
        r.add_connection(b.clone());
        assert!(r.add_stream(stream("str_b", &b)));
        assert!(!r.add_stream(stream("str_b", &b)), "the same stream twice is no change");
        let (left, s) = r.remove_connection("b").unwrap();
        assert_eq!(left.id, "b");
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
