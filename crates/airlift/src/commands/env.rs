//! `airlift env`, `promote` and `rollback`: environments pinned to
//! generations (ADR 0027).

use std::path::Path;
use std::sync::Arc;

use airlift_store::environment::{self, Environment, EnvironmentError, Pinned};
use airlift_store::{Entry, Store};
use serde::Serialize;

use super::{Context, check, now, write_output};
use crate::cli::{EnvCommand, PromoteArgs, RollbackArgs};
use crate::failure::{Exit, Failure};

/// The format of a promotion request.
pub(crate) const PROMOTION_FORMAT: &str = "airlift-promotion-request/1";
/// The `_type` of a promotion request's signed part.
pub(crate) const PROMOTION_TYPE: &str = "airlift-promotion";
/// How long a promotion request stays valid.
const REQUEST_DAYS: i64 = 7;

fn failure(e: EnvironmentError) -> Failure {
    let code = match &e {
        EnvironmentError::NeedsApprovals { .. } => Exit::AwaitingSignatures,
        EnvironmentError::Store(_) | EnvironmentError::Corrupt { .. } => Exit::Failed,
        EnvironmentError::Empty => Exit::Failed,
        _ => Exit::Input,
    };
    let hint = match &e {
        EnvironmentError::NotRetained(_) => {
            Some("`airlift status` and `airlift env list` show the generations kept")
        }
        EnvironmentError::Unknown(_) => Some("`airlift env create NAME` makes one"),
        _ => None,
    };
    let failure = Failure::new(code, e.to_string());
    match hint {
        Some(hint) => failure.hint(hint),
        None => failure,
    }
}

/// Who is moving things: the operator's login name.
fn operator() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

#[derive(Serialize)]
struct Listed {
    name: String,
    generation: u64,
    moved_at: String,
    moved_by: String,
    approvals: u32,
    history: Vec<u64>,
}

fn listed(environment: &Environment) -> Listed {
    Listed {
        name: environment.name.clone(),
        generation: environment.generation,
        moved_at: jiff::Timestamp::from_second(environment.moved_at)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        moved_by: environment.moved_by.clone(),
        approvals: environment.approvals,
        history: environment.history.clone(),
    }
}

pub(crate) fn env(context: &Context, command: EnvCommand) -> Result<(), Failure> {
    let store = context.store()?;
    let meta = store.meta.as_ref();
    match command {
        EnvCommand::Create {
            name,
            at,
            approvals,
        } => {
            let created =
                environment::create(meta, &name, at, approvals, &operator(), now()?.as_second())
                    .map_err(failure)?;
            let shown = listed(&created);
            context.audit("env-create", &shown)?;
            context.emit(&shown, || {
                format!(
                    "environment {name} serves generation {} at /env/{name}/ (images: /v2/env/{name}/…){}",
                    created.generation,
                    if approvals > 0 {
                        format!("; promotions into it need {approvals} approvals")
                    } else {
                        String::new()
                    }
                )
            })
        }
        EnvCommand::List => {
            let current = meta.current()?.map(|g| g.id);
            let all: Vec<Listed> = environment::list(meta)
                .map_err(failure)?
                .iter()
                .map(listed)
                .collect();
            let value = serde_json::json!({"default": current, "environments": all});
            context.emit(&value, || {
                let mut text = format!(
                    "default     generation {} (follows every import)",
                    current.map_or("none".to_owned(), |g| g.to_string())
                );
                for e in &all {
                    text.push_str(&format!(
                        "\n{:<11} generation {} (moved {} by {}){}{}",
                        e.name,
                        e.generation,
                        e.moved_at,
                        e.moved_by,
                        if e.history.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; can roll back to {}",
                                e.history
                                    .iter()
                                    .map(u64::to_string)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        },
                        if e.approvals > 0 {
                            format!("; promotions need {} approvals", e.approvals)
                        } else {
                            String::new()
                        }
                    ));
                }
                text
            })
        }
        EnvCommand::Delete { name } => {
            environment::delete(meta, &name).map_err(failure)?;
            let value = serde_json::json!({"name": name});
            context.audit("env-delete", &value)?;
            context.emit(&value, || format!("environment {name} deleted"))
        }
    }
}

/// What a promotion changes: entry counts by ecosystem, and the advisory
/// findings it introduces and fixes (when a database is carried).
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
struct Preview {
    environment: String,
    from: String,
    generation: u64,
    replaces: u64,
    added: usize,
    changed: usize,
    removed: usize,
    ecosystems: std::collections::BTreeMap<String, [usize; 3]>,
    findings: serde_json::Value,
}

fn preview(
    context: &Context,
    store: &Store,
    from: &str,
    to: &str,
) -> Result<(Preview, Vec<String>, Environment), Failure> {
    let meta = store.meta.as_ref();
    let generation = environment::generation_of(meta, from).map_err(failure)?;
    let target = environment::get(meta, to)
        .map_err(failure)?
        .ok_or_else(|| failure(EnvironmentError::Unknown(to.to_owned())))?;
    let diff = environment::diff(meta, target.generation, generation).map_err(failure)?;
    let mut ecosystems = std::collections::BTreeMap::<String, [usize; 3]>::new();
    let mut lines = Vec::new();
    let mut note = |e: &Entry, column: usize, sign: char| {
        ecosystems.entry(e.ecosystem.clone()).or_default()[column] += 1;
        lines.push(format!("  {sign} {} {}", e.ecosystem, e.key));
    };
    for e in &diff.added {
        note(e, 0, '+');
    }
    for (_, e) in &diff.changed {
        note(e, 1, '~');
    }
    for e in &diff.removed {
        note(e, 2, '-');
    }
    // Findings: the promoted generation's packages against the
    // environment's, with the advisory database the promoted one carries
    // (as `plan` does for a bundle against the site).
    let from_entries = meta.entries(generation, None)?;
    let target_view = Store {
        blobs: store.blobs.clone(),
        meta: Arc::new(Pinned::new(store.meta.clone(), to)),
    };
    let blobs = store.blobs.clone();
    let read = move |digest: &airlift_core::Digest| -> Result<Vec<u8>, String> {
        use std::io::Read as _;
        let mut bytes = Vec::new();
        blobs
            .open(digest)
            .map_err(|e| e.to_string())?
            .take(airlift_bundle::ADMISSION_BLOB_LIMIT)
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        Ok(bytes)
    };
    let outcome = check(
        &context.ecosystems,
        &target_view,
        None,
        now()?,
        &airlift_bundle::AdmissionInput {
            entries: &from_entries,
            blob: &read,
        },
    );
    Ok((
        Preview {
            environment: to.to_owned(),
            from: from.to_owned(),
            generation,
            replaces: target.generation,
            added: diff.added.len(),
            changed: diff.changed.len(),
            removed: diff.removed.len(),
            ecosystems,
            findings: serde_json::json!({
                "introduced": outcome.report["introduced"],
                "fixed": outcome.report["fixed"],
            }),
        },
        lines,
        target,
    ))
}

fn render(preview: &Preview, lines: &[String]) -> String {
    let count = |key: &str| preview.findings[key].as_array().map_or(0, Vec::len);
    let mut text = format!(
        "promote {} (generation {}) to {} (now generation {}): {} added, {} changed, {} removed",
        preview.from,
        preview.generation,
        preview.environment,
        preview.replaces,
        preview.added,
        preview.changed,
        preview.removed,
    );
    for (ecosystem, [a, c, r]) in &preview.ecosystems {
        text.push_str(&format!("\n  {ecosystem}: +{a} ~{c} -{r}"));
    }
    text.push_str(&format!(
        "\n  advisories: {} findings introduced, {} fixed",
        count("introduced"),
        count("fixed")
    ));
    for finding in preview.findings["introduced"]
        .as_array()
        .into_iter()
        .flatten()
        .take(20)
    {
        text.push_str(&format!(
            "\n    ! {} {} {}: {} ({})",
            finding["ecosystem"].as_str().unwrap_or("?"),
            finding["name"].as_str().unwrap_or("?"),
            finding["version"].as_str().unwrap_or("?"),
            finding["id"].as_str().unwrap_or("?"),
            finding["level"].as_str().unwrap_or("?"),
        ));
    }
    const SHOWN: usize = 50;
    for line in lines.iter().take(SHOWN) {
        text.push('\n');
        text.push_str(line);
    }
    if lines.len() > SHOWN {
        text.push_str(&format!(
            "\n  … and {} more (--json lists counts)",
            lines.len() - SHOWN
        ));
    }
    text
}

pub(crate) fn promote(context: &Context, args: PromoteArgs) -> Result<(), Failure> {
    if let Some(file) = &args.approved {
        return promote_approved(context, file);
    }
    let Some(to) = args.to.as_deref() else {
        return Err(Failure::input("--to ENV is required"));
    };
    let store = context.store()?;
    let (preview, lines, target) = preview(context, &store, &args.from, to)?;
    let shown = render(&preview, &lines);
    if args.dry_run {
        return context.emit(&preview, || format!("{shown}\n(dry run: nothing moved)"));
    }
    let meta = store.meta.as_ref();
    if let Some(path) = &args.request {
        let created = now()?;
        let expires = created
            .checked_add(jiff::SignedDuration::from_hours(REQUEST_DAYS * 24))
            .map_err(|e| Failure::new(Exit::Failed, e.to_string()))?;
        let request = serde_json::json!({
            "format": PROMOTION_FORMAT,
            "signed": {
                "_type": PROMOTION_TYPE,
                "site": context.layout.site_id().ok().flatten(),
                "environment": to,
                "from": args.from,
                "generation": preview.generation,
                "replaces": preview.replaces,
                "created": created.to_string(),
                "expires": expires.to_string(),
                "preview": preview,
            },
            "signatures": [],
        });
        let text = serde_json::to_vec_pretty(&request).unwrap_or_default();
        if path.exists() {
            return Err(Failure::input(format!("{} exists", path.display())));
        }
        write_output(path, &text)?;
        let value =
            serde_json::json!({"request": path, "preview": preview, "approvals": target.approvals});
        context.emit(&value, || {
            format!(
                "{shown}\nwrote {}: it needs {} approvals (`airlift approve {} --key …` by keys of the targets role), then `airlift promote --approved {}`",
                path.display(),
                target.approvals,
                path.display(),
                path.display()
            )
        })?;
        return Err(Failure::new(
            Exit::AwaitingSignatures,
            format!(
                "promotion into {to} waits for {} approvals",
                target.approvals
            ),
        ));
    }
    let moved = environment::promote(meta, &args.from, to, &operator(), now()?.as_second())
        .map_err(|e| match e {
            EnvironmentError::NeedsApprovals { .. } => failure(e).hint(format!(
                "run `airlift promote --from {} --to {to} --request promotion.json`",
                args.from
            )),
            other => failure(other),
        })?;
    let summary = serde_json::json!({
        "environment": to,
        "from_environment": args.from,
        "from": moved.from,
        "to": moved.to,
        "by": operator(),
        "added": preview.added,
        "changed": preview.changed,
        "removed": preview.removed,
        "findings_introduced": preview.findings["introduced"].as_array().map_or(0, Vec::len),
        "findings_fixed": preview.findings["fixed"].as_array().map_or(0, Vec::len),
    });
    context.audit("env-promote", &summary)?;
    context.emit(&summary, || {
        format!(
            "{shown}\n{to} now serves generation {} (was {}); `airlift rollback {to}` moves it back",
            moved.to, moved.from
        )
    })
}

/// `promote --approved FILE`: counts the request's signatures by keys of
/// the trusted root's targets role, and moves once they reach the
/// environment's approvals.
fn promote_approved(context: &Context, file: &Path) -> Result<(), Failure> {
    let bytes = std::fs::read(file)
        .map_err(|e| Failure::input(format!("cannot read {}: {e}", file.display())))?;
    let document: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::input(format!("{}: {e}", file.display())))?;
    let signed = &document["signed"];
    if signed["_type"] != PROMOTION_TYPE {
        return Err(Failure::input(format!(
            "{}: not a promotion request",
            file.display()
        )));
    }
    let (Some(to), Some(generation), Some(replaces)) = (
        signed["environment"].as_str(),
        signed["generation"].as_u64(),
        signed["replaces"].as_u64(),
    ) else {
        return Err(Failure::input(format!(
            "{}: a promotion request needs environment, generation and replaces",
            file.display()
        )));
    };
    let expires: jiff::Timestamp = signed["expires"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| Failure::input(format!("{}: no valid expires", file.display())))?;
    if expires < now()? {
        return Err(Failure::new(
            Exit::Refused,
            format!("{}: the request expired at {expires}", file.display()),
        )
        .hint("write a new request with `airlift promote --request`"));
    }
    if signed["site"].as_str() != context.layout.site_id().ok().flatten().as_deref() {
        return Err(Failure::new(
            Exit::Refused,
            format!(
                "{}: the request is for site {}, not this one",
                file.display(),
                signed["site"]
            ),
        ));
    }
    let store = context.store()?;
    let meta = store.meta.as_ref();
    let target = environment::get(meta, to)
        .map_err(failure)?
        .ok_or_else(|| failure(EnvironmentError::Unknown(to.to_owned())))?;
    if target.generation != replaces {
        return Err(Failure::new(
            Exit::Refused,
            format!(
                "{to} serves generation {} now, not {replaces} as when the request was written",
                target.generation
            ),
        )
        .hint("write a new request with `airlift promote --request`, and have it approved again"));
    }
    let root_path = context.layout.trusted_root();
    let root = std::fs::read(&root_path)
        .map_err(|e| {
            Failure::new(
                Exit::Failed,
                format!("cannot read the trusted root {}: {e}", root_path.display()),
            )
            .hint("approvals are counted against the trusted root's targets keys: `airlift init` first")
        })
        .and_then(|bytes| {
            airlift_trust::RootInfo::parse(&bytes).map_err(|e| {
                Failure::new(Exit::Failed, format!("{}: {e}", root_path.display()))
            })
        })?;
    let tally = airlift_trust::roles::tally(&root, "targets", &document)
        .map_err(|e| Failure::new(Exit::Failed, e))?;
    let needed = target.approvals as usize;
    if tally.signed_by.len() < needed {
        return Err(Failure::new(
            Exit::AwaitingSignatures,
            format!(
                "{} carries {} of the {needed} approvals promotion into {to} needs",
                file.display(),
                tally.signed_by.len()
            ),
        )
        .hint(format!(
            "keys of the targets role that have not signed: {}",
            tally.missing.join(", ")
        )));
    }
    let moved = environment::move_to(meta, to, generation, &operator(), now()?.as_second())
        .map_err(failure)?;
    let summary = serde_json::json!({
        "environment": to,
        "from_environment": signed["from"],
        "from": moved.from,
        "to": moved.to,
        "by": operator(),
        "approved_by": tally.signed_by,
        "preview": signed["preview"],
    });
    context.audit("env-promote", &summary)?;
    context.emit(&summary, || {
        format!(
            "{to} now serves generation {} (was {}), approved by {}",
            moved.to,
            moved.from,
            tally.signed_by.join(", ")
        )
    })
}

pub(crate) fn rollback(context: &Context, args: RollbackArgs) -> Result<(), Failure> {
    let store = context.store()?;
    let moved = environment::rollback(
        store.meta.as_ref(),
        &args.name,
        args.to,
        &operator(),
        now()?.as_second(),
    )
    .map_err(failure)?;
    let summary = serde_json::json!({
        "environment": args.name,
        "from": moved.from,
        "to": moved.to,
        "by": operator(),
    });
    context.audit("env-rollback", &summary)?;
    context.emit(&summary, || {
        format!(
            "{} now serves generation {} (was {})",
            args.name, moved.to, moved.from
        )
    })
}
