//! Ed25519 keys in a PKCS#11 token (a hardware security module, or SoftHSM2
//! for tests): the private key never leaves the token, and airlift asks it
//! to sign with `CKM_EDDSA`.
//!
//! Keys are named by an RFC 7512 PKCS#11 URI:
//! `pkcs11:token=<label>;object=<label>?module-path=<library>&pin-value=<pin>`
//! (or `pin-source=file:<path>`; without either, the PIN comes from
//! `AIRLIFT_PKCS11_PIN`).

use std::path::PathBuf;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

use crate::TrustError;

/// A parsed PKCS#11 URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uri {
    /// The token label.
    pub token: String,
    /// The key's label.
    pub object: String,
    /// The PKCS#11 library.
    pub module: PathBuf,
    pin: Option<String>,
    pin_source: Option<String>,
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Uri {
    /// Parses `pkcs11:token=…;object=…?module-path=…&pin-value=…`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .trim()
            .strip_prefix("pkcs11:")
            .ok_or("a PKCS#11 URI starts with pkcs11:")?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (mut token, mut object, mut module, mut pin, mut pin_source) =
            (None, None, None, None, None);
        for part in path.split(';').filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("token", v)) => token = Some(decode(v)),
                Some(("object", v)) => object = Some(decode(v)),
                _ => {}
            }
        }
        for part in query.split('&').filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("module-path", v)) => module = Some(PathBuf::from(decode(v))),
                Some(("pin-value", v)) => pin = Some(decode(v)),
                Some(("pin-source", v)) => {
                    let path = decode(v);
                    let path = path.strip_prefix("file:").unwrap_or(&path).to_owned();
                    let read = std::fs::read_to_string(&path)
                        .map_err(|e| format!("pin-source {path}: {e}"))?;
                    pin = Some(read.trim_end().to_owned());
                    pin_source = Some(path);
                }
                _ => {}
            }
        }
        Ok(Self {
            token: token.ok_or("the URI names no token (token=…)")?,
            object: object.ok_or("the URI names no key (object=…)")?,
            module: module.ok_or("the URI names no library (?module-path=…)")?,
            pin,
            pin_source,
        })
    }

    /// The URI to keep in a file: never a PIN value, a PIN source kept.
    pub fn stored(&self) -> String {
        let encode = |s: &str| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~/:".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        };
        let mut out = format!(
            "pkcs11:token={};object={}?module-path={}",
            encode(&self.token),
            encode(&self.object),
            encode(&self.module.to_string_lossy())
        );
        if let Some(source) = &self.pin_source {
            out.push_str(&format!("&pin-source=file:{}", encode(source)));
        }
        out
    }

    /// The URI without the PIN, for messages and files.
    pub fn redacted(&self) -> String {
        format!(
            "pkcs11:token={};object={}?module-path={}",
            self.token,
            self.object,
            self.module.display()
        )
    }
}

/// A key held in a token.
pub struct HsmKey {
    session: Mutex<Session>,
    key: ObjectHandle,
    public: [u8; 32],
    uri: String,
    // Dropped last: the session belongs to the library context.
    _context: Pkcs11,
}

impl std::fmt::Debug for HsmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HsmKey({})", self.uri)
    }
}

const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];

impl HsmKey {
    /// Opens the key `uri` names; with `create`, makes an Ed25519 key pair
    /// in the token when it holds none under that label.
    pub fn open(text: &str, create: bool) -> Result<Self, TrustError> {
        let uri = Uri::parse(text).map_err(|m| TrustError::Hsm {
            uri: "pkcs11:…".into(),
            message: m,
        })?;
        let fail = |message: String| TrustError::Hsm {
            uri: uri.redacted(),
            message,
        };
        let context = Pkcs11::new(&uri.module)
            .map_err(|e| fail(format!("cannot load {}: {e}", uri.module.display())))?;
        context
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| fail(format!("C_Initialize: {e}")))?;
        let slot = context
            .get_slots_with_token()
            .map_err(|e| fail(format!("listing slots: {e}")))?
            .into_iter()
            .find(|s| {
                context
                    .get_token_info(*s)
                    .is_ok_and(|t| t.label().trim() == uri.token)
            })
            .ok_or_else(|| fail(format!("no token labelled {:?}", uri.token)))?;
        let session = context
            .open_rw_session(slot)
            .map_err(|e| fail(format!("opening a session: {e}")))?;
        let pin = match &uri.pin {
            Some(pin) => pin.clone(),
            None => std::env::var("AIRLIFT_PKCS11_PIN").map_err(|_| {
                fail(
                    "no PIN: give pin-value or pin-source in the URI, or set AIRLIFT_PKCS11_PIN"
                        .into(),
                )
            })?,
        };
        session
            .login(UserType::User, Some(&AuthPin::new(pin.into())))
            .map_err(|e| fail(format!("login refused: {e}")))?;
        let label = uri.object.as_bytes().to_vec();
        let find = |class: ObjectClass| {
            session
                .find_objects(&[Attribute::Class(class), Attribute::Label(label.clone())])
                .map_err(|e| fail(format!("searching the token: {e}")))
        };
        let (mut private, mut public) = (
            find(ObjectClass::PRIVATE_KEY)?,
            find(ObjectClass::PUBLIC_KEY)?,
        );
        if private.is_empty() && create {
            let (p, k) = session
                .generate_key_pair(
                    &Mechanism::EccEdwardsKeyPairGen,
                    &[
                        Attribute::Token(true),
                        Attribute::Verify(true),
                        Attribute::EcParams(ED25519_OID.to_vec()),
                        Attribute::Label(label.clone()),
                    ],
                    &[
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        Attribute::Extractable(false),
                        Attribute::Sign(true),
                        Attribute::Label(label.clone()),
                        Attribute::KeyType(KeyType::EC_EDWARDS),
                    ],
                )
                .map_err(|e| fail(format!("generating an Ed25519 key: {e}")))?;
            public = vec![p];
            private = vec![k];
        }
        let (Some(key), Some(public)) = (private.first().copied(), public.first().copied()) else {
            return Err(fail(format!(
                "the token holds no key pair labelled {:?} (make one with `airlift keys new NAME --pkcs11 URI`)",
                uri.object
            )));
        };
        let point = session
            .get_attributes(public, &[AttributeType::EcPoint])
            .map_err(|e| fail(format!("reading the public key: {e}")))?
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .ok_or_else(|| fail("the public key has no CKA_EC_POINT".into()))?;
        // DER OCTET STRING (04 20 …) or the raw 32 bytes.
        let raw = match point.as_slice() {
            [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
            rest if rest.len() == 32 => rest,
            _ => return Err(fail("the key is not an Ed25519 key".into())),
        };
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(raw);
        Ok(Self {
            session: Mutex::new(session),
            key,
            public: bytes,
            uri: uri.redacted(),
            _context: context,
        })
    }

    /// The raw public key.
    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// Signs `message` (pure Ed25519) in the token.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, TrustError> {
        let session = self.session.lock().map_err(|_| TrustError::Hsm {
            uri: self.uri.clone(),
            message: "session lock poisoned".into(),
        })?;
        session
            .sign(
                &Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                self.key,
                message,
            )
            .map_err(|e| TrustError::Hsm {
                uri: self.uri.clone(),
                message: format!("signing: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_and_hide_the_pin() {
        let uri = Uri::parse(
            "pkcs11:token=air%20lift;object=root-b?module-path=/usr/lib/x.so&pin-value=1234",
        )
        .expect("parses");
        assert_eq!(uri.token, "air lift");
        assert_eq!(uri.object, "root-b");
        assert_eq!(uri.pin.as_deref(), Some("1234"));
        assert!(!uri.redacted().contains("1234"));
        assert!(!uri.stored().contains("1234"));
        let odd = Uri::parse("pkcs11:token=a%3Bb;object=k?pin-value=9&module-path=/m.so")
            .expect("parses");
        assert_eq!(Uri::parse(&odd.stored()).expect("round trip").token, "a;b");
        assert!(!odd.stored().contains("pin"));
        assert!(Uri::parse("pkcs11:object=x?module-path=/m.so").is_err());
        assert!(Uri::parse("file:///x").is_err());
    }
}
