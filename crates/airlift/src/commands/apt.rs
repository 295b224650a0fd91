//! `airlift apt`.

use super::*;

pub(crate) fn apt_key(context: &Context, out: Option<&Path>, binary: bool) -> Result<(), Failure> {
    let key = apt_signing_key(context)?;
    let bytes = if binary {
        key.public_key()
    } else {
        key.public_key_armored().into_bytes()
    };
    match out {
        Some(path) => {
            write_output(path, &bytes)?;
            context.emit(
                &serde_json::json!({"fingerprint": key.fingerprint(), "out": path}),
                || {
                    format!(
                        "wrote the apt signing key {} to {}",
                        key.fingerprint(),
                        path.display()
                    )
                },
            )
        }
        None if binary => {
            use std::io::Write as _;
            std::io::stdout()
                .write_all(&bytes)
                .map_err(|e| Failure::new(Exit::Failed, format!("cannot write the key: {e}")))
        }
        None => context.emit(
            &serde_json::json!({"fingerprint": key.fingerprint(), "key": key.public_key_armored()}),
            || key.public_key_armored().trim_end().to_owned(),
        ),
    }
}
