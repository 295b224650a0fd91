//! The shapes and encodings every other module of this crate shares.
//!
//! Canonical JSON, TUF's time format, the public key object and its key id
//! live here, below everything else, so that `keys`, `metadata` and `roles`
//! each depend on this module and never on one another in both directions:
//! `schema` ← `keypair` ← `roles`, `metadata` ← `keys` (the site's key
//! directory and root rotation, which uses both).

use serde_json::{Value, json};

/// The extra field of a key object that holds a person-readable name.
pub const NAME_FIELD: &str = "x-airlift-name";

/// Formats a time as TUF wants it: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(time: jiff::Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// OLPC canonical JSON of a value, byte for byte as python-tuf
/// (securesystemslib's `encode_canonical`) writes it: no white space,
/// object keys in code-point order, strings as UTF-8 with only `"` and `\`
/// escaped, integers in decimal. A document with a float has no canonical
/// form; for one the result is empty (metadata airlift builds has none).
///
/// This is our own writer, not the `olpc_cjson` formatter, which
/// differs from python-tuf in two ways found by the differential test
/// (`tests/diff`): it rewrites strings to Unicode NFC, and it orders keys by
/// their escaped, quoted bytes, so `"a b"` sorts before `"a"` and `"a#"`
/// before `"a\""`. Either changes the signed bytes, and a signature made
/// over one form does not verify over the other.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if write_canonical(value, &mut out).is_err() {
        out.clear();
    }
    out
}

/// The one thing without a canonical form: a number that is not an integer.
struct NotCanonical;

fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), NotCanonical> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => out.extend_from_slice(i.to_string().as_bytes()),
            (None, Some(u)) => out.extend_from_slice(u.to_string().as_bytes()),
            (None, None) => return Err(NotCanonical),
        },
        Value::String(s) => write_canonical_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sorted here, whatever order the map keeps: `str`'s order is
            // the order of code points, which is Python's.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical_string(key, out);
                out.push(b':');
                write_canonical(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_canonical_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for byte in s.bytes() {
        if matches!(byte, b'"' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b'"');
}

/// The TUF public key object of an Ed25519 key (`public_hex`), with its
/// person-readable name when it has one.
pub(crate) fn public_key_json(public_hex: &str, name: Option<&str>) -> Value {
    let mut key =
        json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": public_hex}});
    if let Some(name) = name {
        key[NAME_FIELD] = json!(name);
    }
    key
}

/// The TUF key id of a public key object: SHA-256 of its canonical JSON.
pub fn keyid_of(key: &Value) -> String {
    hex::encode(airlift_core::Digest::of(&canonical_json(key)).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_is_what_python_tuf_writes() {
        // Found by the differential test against securesystemslib
        // (tests/diff): keys in code-point order, even where a key is a
        // prefix of another or holds a quote, and strings left as they are
        // (not rewritten to NFC).
        let value = json!({"a b": 1, "a": 2, "a#": 3, "a\"": 4, "!": [true, null, "e\u{301}\\"]});
        let expected =
            "{\"!\":[true,null,\"e\u{301}\\\\\"],\"a\":2,\"a b\":1,\"a\\\"\":4,\"a#\":3}";
        assert_eq!(
            String::from_utf8(canonical_json(&value)).ok().as_deref(),
            Some(expected)
        );
        assert_eq!(
            canonical_json(&json!([u64::MAX, i64::MIN, "\n\t\u{0}"])),
            "[18446744073709551615,-9223372036854775808,\"\n\t\u{0}\"]".as_bytes()
        );
        assert!(canonical_json(&json!({"x": 1.5})).is_empty());
    }

    #[test]
    fn canonical_json_edge_cases() {
        let text = |value: Value| String::from_utf8(canonical_json(&value)).expect("UTF-8");
        // Empty containers, nesting, and no white space anywhere.
        assert_eq!(
            text(json!({"b": {}, "a": [[], {}]})),
            r#"{"a":[[],{}],"b":{}}"#
        );
        // Code-point order, not UTF-16 order: U+FFFF sorts before U+10000
        // (in UTF-16 the surrogate pair of U+10000 would sort first).
        assert_eq!(
            text(json!({"\u{10000}": 1, "\u{ffff}": 2})),
            "{\"\u{ffff}\":2,\"\u{10000}\":1}"
        );
        // Upper case before lower case, as bytes order them.
        assert_eq!(
            text(json!({"b": 1, "B": 2, "a": 3})),
            r#"{"B":2,"a":3,"b":1}"#
        );
        // Control characters and non-ASCII text are written raw.
        assert_eq!(text(json!("\u{1}\r\u{7f}€")), "\"\u{1}\r\u{7f}€\"");
        // A float anywhere, however deep, leaves no canonical form.
        assert!(canonical_json(&json!([{"a": [0.5]}])).is_empty());
        // Negative integers and zero.
        assert_eq!(text(json!([-1, 0, -0])), "[-1,0,0]");
    }

    #[test]
    fn key_ids_are_the_sha256_of_the_canonical_key_object() {
        let key = public_key_json("00ff", None);
        let expected = hex::encode(
            airlift_core::Digest::of(
                br#"{"keytype":"ed25519","keyval":{"public":"00ff"},"scheme":"ed25519"}"#,
            )
            .as_bytes(),
        );
        assert_eq!(keyid_of(&key), expected);
        // Field order in the object does not matter, but a name does: it is
        // part of the key object, so of its id.
        let reordered =
            json!({"scheme": "ed25519", "keyval": {"public": "00ff"}, "keytype": "ed25519"});
        assert_eq!(keyid_of(&reordered), expected);
        let named = public_key_json("00ff", Some("alice"));
        assert_eq!(named[NAME_FIELD], "alice");
        assert_ne!(keyid_of(&named), expected);
    }

    #[test]
    fn times_are_whole_seconds_in_utc() {
        let time: jiff::Timestamp = "2026-12-06T21:31:19.999+02:00".parse().expect("time");
        assert_eq!(format_time(time), "2026-12-06T19:31:19Z");
    }
}
