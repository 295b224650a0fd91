//! DSSE's pre-authentication encoding, the bytes a DSSE signature covers.
//!
//! Both the audit log's signed statements and the trust crate's hand-off
//! statements are DSSE envelopes; the encoding lives here, in the one crate
//! both depend on, so the two can never drift apart.

/// DSSE's pre-authentication encoding (PAE) of `payload` with its
/// `payload_type`: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`,
/// lengths as ASCII decimal byte counts. A signature is made over these
/// bytes, never over the payload alone, so that a payload cannot be taken
/// for one of another type.
pub fn dsse_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::dsse_pae;

    #[test]
    fn pae_matches_the_dsse_specification_example() {
        // The example of the DSSE protocol specification (protocol.md).
        assert_eq!(
            dsse_pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn pae_counts_bytes_not_characters() {
        // Lengths are byte counts: a multi-byte character counts for each
        // of its bytes, and an empty type or body still gets its length.
        assert_eq!(dsse_pae("é", "ü".as_bytes()), "DSSEv1 2 é 2 ü".as_bytes());
        assert_eq!(dsse_pae("", b""), b"DSSEv1 0  0 ");
    }
}
