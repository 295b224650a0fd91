//! `airlift user` and `airlift token`: the server's principals.
//!
//! They change the site's index directly (a running server notices within
//! a second) and every change is recorded in the audit log with the
//! operating-system user who made it.

use super::*;
use crate::cli::{TokenCommand, UserCommand};
use airlift_access::{Directory, TokenScope};

fn directory(context: &Context) -> Result<Directory, Failure> {
    Ok(Directory::new(context.store()?.meta))
}

fn failed(error: airlift_access::AccessError) -> Failure {
    use airlift_access::AccessError as E;
    match error {
        E::Store(airlift_store::StoreError::RecordExists { .. })
        | E::UnknownUser(_)
        | E::UnknownToken(_)
        | E::InvalidName(_)
        | E::ShortPassword(_) => Failure::input(error.to_string()),
        other => Failure::new(Exit::Failed, other.to_string()),
    }
}

/// Who ran the command, as the operating system says.
fn operator() -> serde_json::Value {
    serde_json::json!({
        "user": std::env::var("USER").ok(),
        "sudo_user": std::env::var("SUDO_USER").ok(),
    })
}

fn read_password() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Failure::input(format!("cannot read the password from standard input: {e}"))
    })?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(Failure::input("no password on standard input"));
    }
    Ok(password)
}

fn unix(timestamp: jiff::Timestamp) -> i64 {
    timestamp.as_second()
}

fn time_text(seconds: Option<i64>) -> String {
    seconds
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| "never".to_owned(), |t| t.to_string())
}

pub(crate) fn user(context: &Context, command: UserCommand) -> Result<(), Failure> {
    let directory = directory(context)?;
    let now = unix(now()?);
    match command {
        UserCommand::Add {
            name,
            groups,
            password_stdin,
        } => {
            let password = password_stdin.then(read_password).transpose()?;
            let user = directory
                .add_user(&name, &groups, password.as_deref(), now)
                .map_err(failed)?;
            let facts = serde_json::json!({
                "user": user.name,
                "groups": user.groups,
                "password": user.password.is_some(),
                "operator": operator(),
            });
            context.audit("user-add", &facts)?;
            context.emit(&facts, || {
                format!(
                    "added user {}{}{}",
                    user.name,
                    if user.groups.is_empty() {
                        String::new()
                    } else {
                        format!(" (groups: {})", user.groups.join(", "))
                    },
                    if user.password.is_some() {
                        ", with a password"
                    } else {
                        "; it logs in with tokens (`airlift token create`)"
                    }
                )
            })
        }
        UserCommand::Password { name, none } => {
            let password = (!none).then(read_password).transpose()?;
            directory
                .set_password(&name, password.as_deref())
                .map_err(failed)?;
            let facts = serde_json::json!({
                "user": name,
                "password": password.is_some(),
                "operator": operator(),
            });
            context.audit("user-password", &facts)?;
            context.emit(&facts, || {
                if none {
                    format!("removed the password of {name}")
                } else {
                    format!("set the password of {name}")
                }
            })
        }
        UserCommand::Remove { name } => {
            let revoked = directory.remove_user(&name, now).map_err(failed)?;
            let tokens: Vec<&str> = revoked.iter().map(|t| t.name.as_str()).collect();
            let facts = serde_json::json!({
                "user": name,
                "revoked_tokens": tokens,
                "operator": operator(),
            });
            context.audit("user-remove", &facts)?;
            context.emit(&facts, || {
                format!("removed user {name} and revoked {} token(s)", tokens.len())
            })
        }
        UserCommand::List => {
            let users = directory.users().map_err(failed)?;
            let rows: Vec<serde_json::Value> = users
                .iter()
                .map(|u| {
                    serde_json::json!({
                        "name": u.name,
                        "groups": u.groups,
                        "password": u.password.is_some(),
                        "created": time_text(Some(u.created_at)),
                    })
                })
                .collect();
            context.emit(&rows, || {
                if users.is_empty() {
                    return "no users (add one with `airlift user add NAME`)".to_owned();
                }
                users
                    .iter()
                    .map(|u| {
                        format!(
                            "{:<20} {:<9} {}",
                            u.name,
                            if u.password.is_some() {
                                "password"
                            } else {
                                "tokens"
                            },
                            u.groups.join(",")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

pub(crate) fn token(context: &Context, command: TokenCommand) -> Result<(), Failure> {
    let directory = directory(context)?;
    let now = unix(now()?);
    // Tokens may be scoped to the web UI too (`ui:*:read`, ADR 0028).
    let names = context.access_names();
    match command {
        TokenCommand::Create {
            name,
            user,
            scopes,
            expires,
        } => {
            let scopes = scopes
                .iter()
                .map(|s| TokenScope::parse(s, &names))
                .collect::<Result<Vec<_>, _>>()
                .map_err(Failure::input)?;
            let expires_at = expires
                .0
                .map(|age| now.saturating_add(age.as_secs() as i64));
            let (token, secret) = directory
                .create_token(&name, &user, &scopes, expires_at, now)
                .map_err(failed)?;
            let facts = serde_json::json!({
                "token": token.name,
                "user": token.user,
                "scopes": token.scopes,
                "expires": time_text(token.expires_at),
                "operator": operator(),
            });
            context.audit("token-create", &facts)?;
            let mut shown = facts.clone();
            shown["secret"] = serde_json::Value::String(secret.clone());
            if let Some(object) = shown.as_object_mut() {
                object.remove("operator");
            }
            // The secret goes to standard output alone, so that
            // `TOKEN=$(airlift token create …)` captures it; it is shown
            // this once.
            context.emit(&shown, || secret.clone())
        }
        TokenCommand::Revoke { name } => {
            let token = directory.revoke_token(&name, now).map_err(failed)?;
            let facts = serde_json::json!({
                "token": token.name,
                "user": token.user,
                "operator": operator(),
            });
            context.audit("token-revoke", &facts)?;
            context.emit(&facts, || {
                format!("revoked token {} of {}", token.name, token.user)
            })
        }
        TokenCommand::List => {
            let tokens = directory.tokens().map_err(failed)?;
            let rows: Vec<serde_json::Value> = tokens
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "name": t.name,
                        "user": t.user,
                        "scopes": t.scopes,
                        "state": t.state(now),
                        "created": time_text(Some(t.created_at)),
                        "expires": time_text(t.expires_at),
                    })
                })
                .collect();
            context.emit(&rows, || {
                if tokens.is_empty() {
                    return "no tokens (make one with `airlift token create NAME --user USER`)"
                        .to_owned();
                }
                tokens
                    .iter()
                    .map(|t| {
                        format!(
                            "{:<20} {:<16} {:<8} expires {:<22} {}",
                            t.name,
                            t.user,
                            t.state(now),
                            time_text(t.expires_at),
                            if t.scopes.is_empty() {
                                "(all of its user's rights)".to_owned()
                            } else {
                                t.scopes.join(" ")
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}
