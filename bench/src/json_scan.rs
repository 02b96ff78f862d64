//! Walking JSON text without building values, for the load generator's fast paths: they find a few
//! fields in frames whose layout the server fixes. Whitespace, keys with escapes, nesting deeper than
//! [`MAX_DEPTH`] or anything malformed gives `None`, and the caller falls back to serde_json.

/// Deeper nesting is left to the full parse.
const MAX_DEPTH: usize = 16;

/// `text` starts just after a string's opening quote: the string's raw (still escaped) contents and
/// the text after its closing quote.
pub fn string_body(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    let mut at = 0;
    loop {
        at += quote_or_backslash(bytes.get(at..)?)?;
        if bytes[at] == b'"' {
            // A quote is ASCII, so both slices end on character boundaries.
            return Some((&text[..at], &text[at + 1..]));
        }
        at += 2; // the backslash and the character it escapes (`\uXXXX` digits need no care)
    }
}

/// Where the first `"` or `\\` is. Most strings in a frame are short ids: a plain look at their
/// first bytes beats memchr's setup; longer ones get memchr.
fn quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const SHORT: usize = 24;
    let head = &bytes[..bytes.len().min(SHORT)];
    match head.iter().position(|&b| b == b'"' || b == b'\\') {
        Some(at) => Some(at),
        None if bytes.len() <= SHORT => None,
        None => memchr::memchr2(b'"', b'\\', &bytes[SHORT..]).map(|at| at + SHORT),
    }
}

/// The text after the JSON value that `text` starts with (`depth` levels deep already).
fn skip_value_at(text: &str, depth: usize) -> Option<&str> {
    if depth > MAX_DEPTH {
        return None;
    }
    match *text.as_bytes().first()? {
        b'"' => string_body(&text[1..]).map(|(_, rest)| rest),
        b'{' => object_at(text, depth + 1, |_, _| Some(())),
        b'[' => {
            let mut rest = &text[1..];
            if let Some(after) = rest.strip_prefix(']') {
                return Some(after);
            }
            loop {
                rest = skip_value_at(rest, depth + 1)?;
                match *rest.as_bytes().first()? {
                    b',' => rest = &rest[1..],
                    b']' => return Some(&rest[1..]),
                    _ => return None,
                }
            }
        }
        _ => {
            // A number, `true`, `false` or `null`, ended by what may follow a value.
            let scalar = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.');
            let end = text.bytes().position(|b| !scalar(&b)).unwrap_or(text.len());
            let ended = matches!(text.as_bytes().get(end), None | Some(b',' | b'}' | b']'));
            (end > 0 && ended).then_some(&text[end..])
        }
    }
}

/// Walks the object that `text` starts with, calling `member(key, raw value)` for each member;
/// returns the text after its closing `}`. `member` returning `None` stops the walk with `None`.
pub fn object<'a>(text: &'a str, member: impl FnMut(&'a str, &'a str) -> Option<()>) -> Option<&'a str> {
    object_at(text, 1, member)
}

/// [`object`] from the `,` or `}` that follows one of the object's members (the rest of it).
pub fn remaining_members<'a>(text: &'a str, member: impl FnMut(&'a str, &'a str) -> Option<()>) -> Option<&'a str> {
    members_at(text, 1, false, member)
}

fn object_at<'a>(text: &'a str, depth: usize, member: impl FnMut(&'a str, &'a str) -> Option<()>) -> Option<&'a str> {
    let inside = text.strip_prefix('{')?;
    match inside.strip_prefix('}') {
        Some(after) => Some(after),
        None => members_at(inside, depth, true, member),
    }
}

/// The members from `text`: a key at once when `at_key`, else a `,` (then a key) or the closing `}`.
fn members_at<'a>(
    text: &'a str,
    depth: usize,
    mut at_key: bool,
    mut member: impl FnMut(&'a str, &'a str) -> Option<()>,
) -> Option<&'a str> {
    let mut rest = text;
    loop {
        if !at_key {
            match *rest.as_bytes().first()? {
                b'}' => return Some(&rest[1..]),
                b',' => rest = &rest[1..],
                _ => return None,
            }
        }
        at_key = false;
        let (key, after_key) = string_body(rest.strip_prefix('"')?)?;
        if key.contains('\\') {
            return None;
        }
        let value = after_key.strip_prefix(':')?;
        rest = skip_value_at(value, depth)?;
        member(key, &value[..value.len() - rest.len()])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip_value(text: &str) -> Option<&str> {
        skip_value_at(text, 0)
    }

    #[test]
    fn strings_end_at_the_first_unescaped_quote() {
        assert_eq!(string_body(r#"abc",1"#), Some(("abc", ",1")));
        assert_eq!(string_body(r#"a\"b\\",x"#), Some((r#"a\"b\\"#, ",x")));
        assert_eq!(string_body(r#"é\u00e9"}"#), Some((r#"é\u00e9"#, "}")));
        assert_eq!(string_body(r#"unterminated\"#), None);
        assert_eq!(string_body("no end"), None);
        let long = format!("{}\\\"{}\"tail", "x".repeat(30), "y".repeat(30));
        assert_eq!(string_body(&long).map(|(_, rest)| rest), Some("tail"), "escapes past memchr's start");
    }

    #[test]
    fn values_of_every_kind_are_skipped_whole() {
        let cases = [
            (r#""s\"}",1"#, ",1"),
            (r#"{"a":[1,{"b":"]"}],"c":null},2"#, ",2"),
            ("[],3", ",3"),
            ("{}]", "]"),
            ("-1.5e+3}", "}"),
            ("true", ""),
        ];
        for (text, rest) in cases {
            assert_eq!(skip_value(text), Some(rest), "{text}");
        }
        for bad in ["", " 1", "{\"a\" :1}", "[1 ,2]", "{\"a\":1,}", "[1,]", "{1:2}", ",", "\"x\"\"y\"", "{,\"a\":1}"] {
            assert!(skip_value(bad).is_none_or(|rest| !rest.is_empty()), "{bad}");
        }
        assert_eq!(skip_value(&format!("{}{}", "[".repeat(40), "]".repeat(40))), None, "too deep");
    }

    #[test]
    fn members_come_with_their_raw_values() {
        let mut seen = Vec::new();
        let rest = object(r#"{"id":"x","n":[1,2],"m":"{\"k\":1}"},tail"#, |k, v| {
            seen.push((k, v));
            Some(())
        });
        assert_eq!(rest, Some(",tail"));
        assert_eq!(seen, [("id", r#""x""#), ("n", "[1,2]"), ("m", r#""{\"k\":1}""#)]);
        assert_eq!(object("{}", |_, _| Some(())), Some(""));
        assert_eq!(object(r#"{,"a":1}"#, |_, _| Some(())), None, "a comma before the first member");
        assert_eq!(object(r#"{"\u0069d":1}"#, |_, _| Some(())), None, "escaped keys are left to serde");
        assert_eq!(object(r#"{"a":1}"#, |_, _| None), None, "the callback can stop the walk");
        assert_eq!(remaining_members(r#","a":1}"#, |_, _| Some(())), Some(""), "continuing after a member");
        assert_eq!(remaining_members("}", |_, _| Some(())), Some(""));
        assert_eq!(remaining_members(r#""a":1}"#, |_, _| Some(())), None, "a key needs its comma first");
    }
}
