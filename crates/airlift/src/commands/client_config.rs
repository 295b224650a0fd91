//! `airlift client-config <tool>`: the configuration that points a client
//! at this server, from the ecosystem that owns the client.

use super::*;

pub(crate) fn client_config(context: &Context, args: ClientConfigArgs) -> Result<(), Failure> {
    let url = url::Url::parse(&args.url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            Failure::input(format!(
                "--url {:?} is not an http(s) URL such as https://airlift.example.com:8443",
                args.url
            ))
        })?;
    let ecosystem = context
        .ecosystems
        .iter()
        .find(|e| e.clients().iter().any(|c| c.name == args.tool))
        .ok_or_else(|| {
            let known: Vec<&str> = context
                .ecosystems
                .iter()
                .flat_map(|e| e.clients().iter().map(|c| c.name))
                .collect();
            Failure::input(format!(
                "no client named {:?}; airlift configures {}",
                args.tool,
                known.join(", ")
            ))
        })?;
    let mut base = url.as_str().trim_end_matches('/').to_owned();
    if let Some(name) = &args.env {
        // The environment must exist: a typo would point clients at 404s.
        let store = context.store()?;
        airlift_store::environment::get(store.meta.as_ref(), name)
            .map_err(|e| Failure::new(Exit::Failed, e.to_string()))?
            .ok_or_else(|| {
                Failure::input(format!("there is no environment {name:?}"))
                    .hint("`airlift env list` shows them")
            })?;
        base = format!("{base}/env/{name}");
    }
    let ca = context.layout.tls_ca_certificate();
    let open_store = || {
        let store = context
            .store()
            .map_err(|f| airlift_ecosystem::Error::store(f.message))?;
        // An environment's client sees the environment's generation.
        Ok(match &args.env {
            Some(name) => airlift_store::Store {
                blobs: store.blobs.clone(),
                meta: std::sync::Arc::new(airlift_store::environment::Pinned::new(
                    store.meta.clone(),
                    name,
                )),
            },
            None => store,
        })
    };
    // Only the services' keys matter here, not how long signatures last.
    let extensions = || {
        site_extensions(context, Some(ecosystem.name()), 1)
            .map_err(|f| airlift_ecosystem::Error::store(f.message))
    };
    let login = match (&args.user, &args.token_file) {
        (Some(user), Some(file)) => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                Failure::input(format!(
                    "cannot read the token from {}: {e}",
                    file.display()
                ))
            })?;
            let token = text.lines().next().unwrap_or_default().trim().to_owned();
            if token.is_empty() {
                return Err(Failure::input(format!("{} holds no token", file.display())));
            }
            if context.out.is_none() && std::io::stdout().is_terminal() && !args.show_secrets {
                return Err(Failure::input(
                    "refusing to print a configuration with credentials to a terminal",
                )
                .hint("redirect it to a file (`> pip.conf`), or pass --show-secrets"));
            }
            Some(airlift_ecosystem::Login {
                user: user.clone(),
                token,
            })
        }
        _ => None,
    };
    let config = ecosystem
        .client_config(
            &args.tool,
            &airlift_ecosystem::ClientRequest {
                base: &base,
                tls: url.scheme() == "https",
                ca: &ca,
                store: &open_store,
                extensions: &extensions,
                signed_by: &args.signed_by,
                login: login.as_ref(),
            },
        )
        .map_err(ecosystem_failure)?;
    context.emit(&config, || {
        let mut text = format!("# {}\n{}", config.file, config.content);
        if !config.environment.is_empty() {
            text.push_str("# or, for one shell:\n");
        }
        for (key, value) in &config.environment {
            text.push_str(&format!("# export {key}={value}\n"));
        }
        text.trim_end().to_owned()
    })
}
