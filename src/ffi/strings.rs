//! Conversions of Rust strings into C strings owned by the C-facing objects.

use std::ffi::CString;

/// A C copy of `text`. Interior NUL characters (legal in JSON, impossible in a C string) are removed
/// rather than truncating the text; this is the only alteration.
pub(crate) fn to_c_string(text: &str) -> CString {
    match CString::new(text) {
        Ok(c) => c,
        Err(_) => {
            let cleaned: Vec<u8> = text.bytes().filter(|b| *b != 0).collect();
            CString::new(cleaned).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_nul_characters_are_removed() {
        assert_eq!(to_c_string("a\0b").as_bytes(), b"ab");
        assert_eq!(to_c_string("plain").as_bytes(), b"plain");
    }
}
