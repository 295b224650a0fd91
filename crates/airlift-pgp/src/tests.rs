use super::*;

fn key() -> SigningKey {
    SigningKey::generate("airlift test <test@example.com>", 1_700_000_000)
        .expect("key")
        .0
}

#[test]
fn own_signatures_verify_and_tampering_is_caught() {
    let k = key();
    let ring = Keyring::parse(k.public_key_armored().as_bytes()).expect("ring");
    assert_eq!(ring.fingerprints(), [k.fingerprint()]);
    let binary = Keyring::parse(&k.public_key()).expect("binary ring");
    assert_eq!(binary.fingerprints(), [k.fingerprint()]);

    let text = "Origin: Test\nSuite: stable\n-dash line\nSHA256:\n abc 1 main/x  \n";
    let signed = k.sign_cleartext(text, 1_700_000_100);
    let (out, who) = ring.verify_cleartext(signed.as_bytes()).expect("verifies");
    assert_eq!(String::from_utf8(out).expect("utf8"), text);
    assert_eq!(who, k.fingerprint());
    let tampered = signed.replace("stable", "stabel");
    assert!(matches!(
        ring.verify_cleartext(tampered.as_bytes()),
        Err(PgpError::Bad(_))
    ));

    let detached = k.sign_detached(text.as_bytes(), 1_700_000_100);
    assert_eq!(
        ring.verify_detached(text.as_bytes(), detached.as_bytes())
            .expect("detached"),
        k.fingerprint()
    );
    assert!(matches!(
        ring.verify_detached(b"other", detached.as_bytes()),
        Err(PgpError::Bad(_))
    ));

    let other = Keyring::parse(key().public_key_armored().as_bytes()).expect("other");
    let error = other
        .verify_cleartext(signed.as_bytes())
        .expect_err("unknown signer");
    assert!(
        matches!(&error, PgpError::UnknownSigner { signers, .. } if signers.contains(&k.fingerprint())),
        "{error}"
    );
}

#[test]
fn armor_round_trips_and_checks_crc() {
    let data = b"hello world, some bytes \x00\x01\xff";
    let text = armor("SIGNATURE", data);
    assert_eq!(dearmor(&text).expect("decodes"), data);
    let broken = text.replace("\n=", "\n=AAAA");
    assert!(dearmor(&broken).is_err());
}

#[test]
fn text_canonicalisation() {
    assert_eq!(canonical_text(b"a  \nb\t\n"), b"a\r\nb");
    assert_eq!(canonical_text(b"a\r\n\nb"), b"a\r\n\r\nb");
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    for input in [
        &b""[..],
        b"\x99\x01",
        b"\xc2\xff\xff\xff\xff\xff",
        b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!\n-----END PGP PUBLIC KEY BLOCK-----\n",
        b"\x88\x05\x04\x00\x16\x0a\x00",
    ] {
        let _ = Keyring::parse(input);
        let _ = key().public_key();
        let ring = Keyring::parse(key().public_key_armored().as_bytes()).expect("ring");
        assert!(ring.verify_detached(b"x", input).is_err());
        assert!(ring.verify_cleartext(input).is_err());
    }
}

#[test]
fn expired_revoked_and_certify_only_keys_are_not_used() {
    // Made in 2001, expiring an hour later.
    let (old, _) = SigningKey::generate("old <old@example.com>", 1_000_000_000).expect("key");
    let flags = sign::subpacket(27, &[0x03]);
    let expired = [sign::subpacket(9, &3600u32.to_be_bytes()), flags.clone()].concat();
    assert_eq!(
        Keyring::parse(&old.test_key(&expired, false)).expect_err("expired"),
        PgpError::EmptyKeyring
    );
    // Still valid: expiring in 2100.
    let later = [
        sign::subpacket(9, &3_100_000_000u32.to_be_bytes()),
        flags.clone(),
    ]
    .concat();
    assert_eq!(
        Keyring::parse(&old.test_key(&later, false))
            .expect("valid")
            .fingerprints(),
        [old.fingerprint()]
    );
    // Its expiry is the creation time plus the self-signature's
    // key-expiration time; a key made without one never expires.
    let expires = |bytes: &[u8]| -> Vec<Option<u64>> {
        Keyring::parse(bytes)
            .expect("valid")
            .keys()
            .iter()
            .map(PublicKey::expires)
            .collect()
    };
    assert_eq!(
        expires(&old.test_key(&later, false)),
        [Some(1_000_000_000 + 3_100_000_000)]
    );
    assert_eq!(expires(&old.public_key()), [None]);
    assert_eq!(
        Keyring::parse(&old.test_key(&flags, true)).expect_err("revoked"),
        PgpError::EmptyKeyring
    );
    let certify_only = sign::subpacket(27, &[0x01]);
    assert_eq!(
        Keyring::parse(&old.test_key(&certify_only, false)).expect_err("cannot sign"),
        PgpError::EmptyKeyring
    );
    // A key without any valid self-signature is not used either.
    let mut bare = old.test_key(&flags, false);
    let last = bare.len() - 1;
    bare[last] ^= 0x01;
    assert!(Keyring::parse(&bare).is_err());
}

#[test]
fn a_signing_subkey_needs_its_back_signature() {
    // Found by the differential test against gpgv (tests/diff/pgp.py): a
    // keyring made by gpg (Ed25519 primary that only certifies, Ed25519
    // signing subkey) verifies the subkey's signature; the same keyring with
    // one byte of the subkey's back-signature flipped (in the unhashed area
    // of the binding, so the binding itself still verifies) must not, as
    // gpgv refuses it.
    let data = include_bytes!("../testdata/subkey.txt");
    let signature = include_bytes!("../testdata/subkey.sig");
    let good = Keyring::parse(include_bytes!("../testdata/subkey.gpg")).expect("keyring");
    assert!(good.verify_detached(data, signature).is_ok());
    let verdict = Keyring::parse(include_bytes!("../testdata/subkey-bad-backsig.gpg"))
        .and_then(|keyring| keyring.verify_detached(data, signature));
    assert!(
        verdict.is_err(),
        "a subkey without a valid back-signature signed"
    );
}

#[test]
fn a_damaged_signature_spoils_its_key() {
    // Found by the differential test against gpgv (tests/diff/pgp.py): a
    // revocation whose length bytes were damaged no longer parsed, was
    // skipped, and left the revoked key usable; gpgv does not use a key
    // whose block holds a signature it cannot read. Here an unreadable
    // version 4 signature (its hashed area runs past the packet) follows
    // the subkey's binding.
    let data = include_bytes!("../testdata/subkey.txt");
    let signature = include_bytes!("../testdata/subkey.sig");
    let mut keyring = include_bytes!("../testdata/subkey.gpg").to_vec();
    keyring.extend_from_slice(&[0x88, 6, 4, 0x28, 22, 10, 0xFF, 0xFF]);
    let verdict =
        Keyring::parse(&keyring).and_then(|keyring| keyring.verify_detached(data, signature));
    assert!(
        verdict.is_err(),
        "a key with an unreadable signature was used"
    );
    // A version 3 signature is skipped, as before.
    let mut keyring = include_bytes!("../testdata/subkey.gpg").to_vec();
    keyring.extend_from_slice(&[0x88, 6, 3, 0x28, 22, 10, 0xFF, 0xFF]);
    let keyring = Keyring::parse(&keyring).expect("keyring");
    assert!(keyring.verify_detached(data, signature).is_ok());
}

#[test]
fn every_issuer_subpacket_must_name_the_key() {
    // Found by the differential test against gpgv (tests/diff/pgp.py): a
    // self-signature whose unhashed issuer key id no longer names the key
    // still counted, because the hashed issuer fingerprint did; gpgv does
    // not count it, so the key has no self-signature and is not used. In
    // the fixture, bytes 155..165 are that subpacket (length 9, type 16,
    // then the key id).
    let data = include_bytes!("../testdata/subkey.txt");
    let signature = include_bytes!("../testdata/subkey.sig");
    let mut keyring = include_bytes!("../testdata/subkey.gpg").to_vec();
    assert_eq!(keyring[155..157], [9, 16]);
    keyring[164] ^= 0x01;
    let verdict =
        Keyring::parse(&keyring).and_then(|keyring| keyring.verify_detached(data, signature));
    assert!(
        verdict.is_err(),
        "a self-signature by another key id counted"
    );
}
