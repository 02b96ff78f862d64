//! A typed, borrowing parse of the two notifications that arrive in floods: `participantJoined` (a
//! join storm) and `sendMessage` (a signal burst). It builds no `serde_json::Value` and copies no
//! string it does not keep.
//!
//! It is only a shortcut: any frame it is not sure about (another method, a response, a field of an
//! unexpected type, a duplicate key, params that are not an object, an empty connection id) gives
//! `None`, and the caller takes the general path (`jsonrpc::parse_frame` + `notify::Notifier::apply`),
//! which decides exactly as it would have without this module.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Number;

/// A flood notification, parsed.
#[derive(Debug, PartialEq)]
pub(crate) enum HotNotification<'a> {
    /// `participantJoined`: the new connection's fields.
    Joined {
        id: Cow<'a, str>,
        created_at: Option<Number>,
        metadata: Option<Cow<'a, str>>,
    },
    /// `sendMessage`: the received signal's fields.
    Signal {
        kind: Option<Cow<'a, str>>,
        data: Option<Cow<'a, str>>,
        from: Option<Cow<'a, str>>,
    },
}

/// Parses `text` when it is a well-formed `participantJoined` or `sendMessage` notification.
///
/// A `metadata` string with escapes (an app's JSON clientData always has some) is unescaped into
/// `scratch`, reused from frame to frame, rather than into a string of its own: the connection built
/// from it copies it anyway.
pub(crate) fn parse_hot<'a>(text: &'a str, scratch: &'a mut String) -> Option<HotNotification<'a>> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let mut params = Params::default();
    let frame = FrameSeed { scratch: &mut *scratch, params: &mut params }.deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    if frame.jsonrpc.as_deref() != Some("2.0") || !frame.has_params {
        return None;
    }
    let scratch: &'a str = scratch.as_str();
    match frame.method?.as_ref() {
        "participantJoined" => {
            let id = params.id.filter(|id| !id.is_empty())?;
            let metadata = params.metadata.map(|metadata| match metadata {
                Metadata::InText(text) => Cow::Borrowed(text),
                Metadata::InScratch => Cow::Borrowed(scratch),
            });
            Some(HotNotification::Joined { id, created_at: params.created_at, metadata })
        }
        "sendMessage" => Some(HotNotification::Signal { kind: params.kind, data: params.data, from: params.from }),
        _ => None,
    }
}

/// The frame's top level (its params are read into the caller's [`Params`], in place: moving them
/// out of each nested visitor cost as much as reading them). Deserialization fails (so the caller
/// falls back) on anything that is not a notification: an `id`, `result` or `error` key, a duplicate
/// key, a non-object.
struct Frame<'a> {
    jsonrpc: Option<Cow<'a, str>>,
    method: Option<Cow<'a, str>>,
    has_params: bool,
}

/// The union of the params fields of both notifications; other fields are skipped.
#[derive(Default)]
struct Params<'a> {
    id: Option<Cow<'a, str>>,
    created_at: Option<Number>,
    metadata: Option<Metadata<'a>>,
    kind: Option<Cow<'a, str>>,
    data: Option<Cow<'a, str>>,
    from: Option<Cow<'a, str>>,
}

/// Where a parsed `metadata` string is.
enum Metadata<'a> {
    /// In the frame (it had no escapes).
    InText(&'a str),
    /// Unescaped into the caller's scratch buffer.
    InScratch,
}

/// Deserializes the top level, handing `scratch` and `params` down to the params.
struct FrameSeed<'s, 'a> {
    scratch: &'s mut String,
    params: &'s mut Params<'a>,
}

/// Deserializes the params into `params`, handing `scratch` down to the metadata.
struct ParamsSeed<'s, 'a> {
    scratch: &'s mut String,
    params: &'s mut Params<'a>,
}

/// Reads an optional metadata string (`null` is none) into a [`Metadata`].
struct MetadataSeed<'s> {
    scratch: &'s mut String,
}

/// Stores `value` in an empty slot; a second value for the same key is an error (the general path
/// keeps the last one, so the shortcut stays out of it).
fn fill<T, E: de::Error>(slot: &mut Option<T>, value: T, key: &str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::custom(format_args!("duplicate key {key}")));
    }
    *slot = Some(value);
    Ok(())
}

/// Reads an optional string (`null` is none), borrowing it from the frame when it has no escapes.
struct OptionalStr<'a>(Option<Cow<'a, str>>);

/// Reads a string, borrowing it from the frame when it has no escapes.
struct Str<'a>(Cow<'a, str>);

/// Builds strings that borrow from the frame when they can; `null` only when `nullable`.
struct StrVisitor {
    nullable: bool,
}

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.nullable { "a string or null" } else { "a string" })
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        if self.nullable {
            Ok(None)
        } else {
            Err(E::invalid_type(de::Unexpected::Unit, &self))
        }
    }
}

impl<'de> Deserialize<'de> for OptionalStr<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // serde_json reads `null` through `deserialize_any` as a unit.
        deserializer.deserialize_any(StrVisitor { nullable: true }).map(OptionalStr)
    }
}

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = deserializer.deserialize_str(StrVisitor { nullable: false })?;
        text.map(Str).ok_or_else(|| de::Error::custom("expected a string"))
    }
}

impl<'de> DeserializeSeed<'de> for FrameSeed<'_, 'de> {
    type Value = Frame<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Frame<'de>, D::Error> {
        struct FrameVisitor<'s, 'a>(FrameSeed<'s, 'a>);
        impl<'de> Visitor<'de> for FrameVisitor<'_, 'de> {
            type Value = Frame<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC notification object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Frame<'de>, A::Error> {
                let (mut jsonrpc, mut method, mut has_params) = (None, None, false);
                let mut seen_jsonrpc = false;
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    match key.0.as_ref() {
                        "jsonrpc" => {
                            if std::mem::replace(&mut seen_jsonrpc, true) {
                                return Err(de::Error::custom("duplicate key jsonrpc"));
                            }
                            jsonrpc = map.next_value::<OptionalStr<'de>>()?.0;
                        }
                        "method" => {
                            let value = map.next_value::<Str<'de>>()?.0;
                            fill(&mut method, value, "method")?;
                        }
                        "params" => {
                            if std::mem::replace(&mut has_params, true) {
                                return Err(de::Error::custom("duplicate key params"));
                            }
                            let seed = ParamsSeed { scratch: &mut *self.0.scratch, params: &mut *self.0.params };
                            map.next_value_seed(seed)?;
                        }
                        "id" | "result" | "error" => return Err(de::Error::custom("not a notification")),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Frame { jsonrpc, method, has_params })
            }
        }
        deserializer.deserialize_map(FrameVisitor(self))
    }
}

impl<'de> DeserializeSeed<'de> for ParamsSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        struct ParamsVisitor<'s, 'a>(ParamsSeed<'s, 'a>);
        impl<'de> Visitor<'de> for ParamsVisitor<'_, 'de> {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a params object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
                let ParamsSeed { scratch, params } = self.0;
                let mut seen = [false; 6];
                while let Some(key) = map.next_key::<Str<'de>>()? {
                    let (index, slot) = match key.0.as_ref() {
                        "id" => (0, &mut params.id),
                        "metadata" => {
                            if std::mem::replace(&mut seen[1], true) {
                                return Err(de::Error::custom("duplicate key metadata"));
                            }
                            params.metadata = map.next_value_seed(MetadataSeed { scratch: &mut *scratch })?;
                            continue;
                        }
                        "type" => (2, &mut params.kind),
                        "data" => (3, &mut params.data),
                        "from" => (4, &mut params.from),
                        "createdAt" => {
                            if std::mem::replace(&mut seen[5], true) {
                                return Err(de::Error::custom("duplicate key createdAt"));
                            }
                            params.created_at = map.next_value::<Option<Number>>()?;
                            continue;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if std::mem::replace(&mut seen[index], true) {
                        return Err(de::Error::custom(format_args!("duplicate key {}", key.0)));
                    }
                    *slot = map.next_value::<OptionalStr<'de>>()?.0;
                }
                Ok(())
            }
        }
        deserializer.deserialize_map(ParamsVisitor(self))
    }
}

impl<'de> DeserializeSeed<'de> for MetadataSeed<'_> {
    type Value = Option<Metadata<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        struct MetadataVisitor<'s>(&'s mut String);
        impl<'de> Visitor<'de> for MetadataVisitor<'_> {
            type Value = Option<Metadata<'de>>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Some(Metadata::InText(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                self.0.clear();
                self.0.push_str(v);
                Ok(Some(Metadata::InScratch))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
        }
        // serde_json reads `null` through `deserialize_any` as a unit.
        deserializer.deserialize_any(MetadataVisitor(self.scratch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_join_and_a_signal_borrowing_their_strings() {
        let mut scratch = String::new();
        let joined = parse_hot(
            r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_b","createdAt":12,"metadata":"Bob%/%srv","streams":[]}}"#,
            &mut scratch,
        );
        let Some(HotNotification::Joined { id, created_at, metadata }) = joined else { panic!("{joined:?}") };
        assert!(matches!(id, Cow::Borrowed("con_b")));
        assert_eq!(created_at.and_then(|n| n.as_i64()), Some(12));
        assert_eq!(metadata.as_deref(), Some("Bob%/%srv"));
        let signal = parse_hot(
            r#"{"params":{"data":"a \"q\"","type":"signal:chat","from":null},"method":"sendMessage","jsonrpc":"2.0"}"#,
            &mut scratch,
        );
        assert_eq!(
            signal,
            Some(HotNotification::Signal { kind: Some("signal:chat".into()), data: Some("a \"q\"".into()), from: None })
        );
    }

    #[test]
    fn unescapes_metadata_into_the_scratch_buffer_frame_after_frame() {
        let mut scratch = String::from("left over from an earlier frame");
        let frame = r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"metadata":"{\"clientData\":\"Ann \u00e9\"}","id":"con_a"}}"#;
        let joined = parse_hot(frame, &mut scratch);
        let Some(HotNotification::Joined { id, metadata, .. }) = joined else { panic!("{joined:?}") };
        assert_eq!((id.as_ref(), metadata.as_deref()), ("con_a", Some(r#"{"clientData":"Ann é"}"#)));
        let frame = r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_b","metadata":"q\"","createdAt":1}}"#;
        let Some(HotNotification::Joined { metadata, .. }) = parse_hot(frame, &mut scratch) else { panic!() };
        assert_eq!(metadata.as_deref(), Some("q\""));
        let frame = r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"con_c","metadata":null}}"#;
        let Some(HotNotification::Joined { metadata, .. }) = parse_hot(frame, &mut scratch) else { panic!() };
        assert_eq!(metadata, None);
    }

    #[test]
    fn leaves_everything_else_to_the_general_path() {
        let others = [
            r#"{"jsonrpc":"2.0","method":"participantLeft","params":{"connectionId":"c"}}"#,
            r#"{"jsonrpc":"2.0","id":3,"result":{}}"#,
            r#"{"jsonrpc":"2.0","method":"sendMessage","params":{"data":"x"},"id":null}"#,
            r#"{"jsonrpc":"1.0","method":"sendMessage","params":{}}"#,
            r#"{"method":"sendMessage","params":{}}"#,
            r#"{"jsonrpc":"2.0","method":"sendMessage"}"#,
            r#"{"jsonrpc":"2.0","method":"sendMessage","params":["a","b","c"]}"#,
            r#"{"jsonrpc":"2.0","method":"sendMessage","params":{"data":5}}"#,
            r#"{"jsonrpc":"2.0","method":"sendMessage","params":{"data":"a","data":"b"}}"#,
            r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":""}}"#,
            r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"metadata":"m"}}"#,
            r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"c","createdAt":"1"}}"#,
            r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"c","metadata":"a","metadata":"b"}}"#,
            r#"{"jsonrpc":"2.0","method":"participantJoined","params":{"id":"c","metadata":{"clientData":"a"}}}"#,
            r#"{"jsonrpc":"2.0","method":"participantJoined","method":"sendMessage","params":{"id":"c"}}"#,
            r#"[1]"#,
            r#"{"jsonrpc":"2.0","method":"sendMessage","params":{}} x"#,
        ];
        let mut scratch = String::new();
        for text in others {
            assert_eq!(parse_hot(text, &mut scratch), None, "{text}");
        }
    }
}
