//! The UI's state: what it reads, and the views it keeps between
//! requests, each valid while what it came from is unchanged: the
//! catalog per generation, the audit log's events and verification per
//! log head, the last bundle's signers per bundle id, and a generation's
//! changes per generation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use airlift_store::Generation;
use tokio::sync::Mutex;

use crate::Ui;
use crate::catalog::Catalog;

/// The shared state of the UI's handlers.
#[derive(Clone)]
pub struct State {
    pub ui: Arc<Ui>,
    catalog: Arc<Mutex<Option<Arc<Catalog>>>>,
    audit: Arc<Mutex<Option<Arc<AuditView>>>>,
    signers: Arc<Mutex<Option<Signers>>>,
    changes: Arc<Mutex<KnownChanges>>,
}

/// The last bundle's id and its signers.
type Signers = (String, Arc<Vec<String>>);

/// The changes between pairs of generations, by (from, to).
type KnownChanges = HashMap<(u64, u64), Option<Changes>>;

/// The audit log as the pages show it.
pub struct AuditView {
    /// The head it was read at (size and root, hex), `None` without a log.
    head: Option<(u64, String)>,
    /// Every event, in order.
    pub events: Vec<airlift_audit::Event>,
    /// How many events of each kind.
    pub kinds: BTreeMap<String, usize>,
    /// The verification's result: what it established, or why it failed
    /// and whether that is tampering.
    pub verified: Verification,
}

/// What verifying the log found.
pub enum Verification {
    /// No log.
    Absent,
    /// It verifies.
    Intact(airlift_audit::Verified),
    /// An append was cut short; the signed entries are intact.
    Interrupted(String),
    /// It does not verify.
    Failed(String),
}

/// Entries a generation added, changed and removed against the one
/// before it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Changes {
    /// Added.
    pub added: u64,
    /// Changed (another digest).
    pub changed: u64,
    /// Removed.
    pub removed: u64,
}

/// A failure to read what a page shows.
#[derive(Debug)]
pub struct Unavailable(pub String);

impl<E: std::fmt::Display> From<E> for Unavailable {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Unavailable> + Send + 'static,
) -> Result<T, Unavailable> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Unavailable(format!("the task failed: {e}")))?
}

impl State {
    pub fn new(ui: Ui) -> Self {
        Self {
            ui: Arc::new(ui),
            catalog: Arc::default(),
            audit: Arc::default(),
            signers: Arc::default(),
            changes: Arc::default(),
        }
    }

    /// The current generation, if any.
    pub async fn current(&self) -> Result<Option<Generation>, Unavailable> {
        let store = self.ui.store.clone();
        blocking(move || Ok(store.meta.current()?)).await
    }

    /// The catalog of the current generation: kept while it stays
    /// current, built once when another becomes current. `None` before
    /// the first generation.
    pub async fn catalog(&self) -> Result<Option<Arc<Catalog>>, Unavailable> {
        let Some(generation) = self.current().await? else {
            return Ok(None);
        };
        // Held while building, so that one request builds and the others
        // wait for it.
        let mut kept = self.catalog.lock().await;
        if let Some(catalog) = kept.as_ref()
            && catalog.generation.id == generation.id
        {
            return Ok(Some(catalog.clone()));
        }
        let ui = self.ui.clone();
        let built = blocking(move || {
            let started = std::time::Instant::now();
            let catalog = Catalog::build(&ui.store, &ui.ecosystems, generation)?;
            tracing::info!(
                generation = catalog.generation.id,
                ms = started.elapsed().as_millis() as u64,
                "ui: catalog built"
            );
            Ok(catalog)
        })
        .await?;
        let built = Arc::new(built);
        *kept = Some(built.clone());
        Ok(Some(built))
    }

    /// The audit log's events and verification, read again when its head
    /// moved.
    pub async fn audit(&self) -> Result<Arc<AuditView>, Unavailable> {
        let Some(log) = self.ui.log.clone() else {
            return Ok(Arc::new(AuditView {
                head: None,
                events: Vec::new(),
                kinds: BTreeMap::new(),
                verified: Verification::Absent,
            }));
        };
        let probe = log.clone();
        let head = blocking(move || Ok(probe.head().map(|h| (h.size, h.root_hex())))).await?;
        let mut kept = self.audit.lock().await;
        if let Some(view) = kept.as_ref()
            && view.head.is_some()
            && view.head == head
        {
            return Ok(view.clone());
        }
        let view = blocking(move || {
            let verified = match log.verify(&[]) {
                Ok(verified) if verified.entries == 0 => Verification::Absent,
                Ok(verified) => Verification::Intact(verified),
                Err(airlift_audit::AuditError::Interrupted { message, .. }) => {
                    Verification::Interrupted(message)
                }
                Err(e) => Verification::Failed(e.to_string()),
            };
            let events = log.events()?;
            let mut kinds = BTreeMap::new();
            for event in &events {
                *kinds.entry(event.event.clone()).or_default() += 1;
            }
            Ok(AuditView {
                head,
                events,
                kinds,
                verified,
            })
        })
        .await?;
        let view = Arc::new(view);
        *kept = Some(view.clone());
        Ok(view)
    }

    /// The keys whose signatures the last imported bundle's targets carry,
    /// named by the trusted root (as `airlift report` names them); read
    /// again when another bundle is imported.
    pub async fn signers(&self, bundle: &str) -> Arc<Vec<String>> {
        let Some(home) = self.ui.home.clone() else {
            return Arc::default();
        };
        let mut kept = self.signers.lock().await;
        if let Some((id, signers)) = kept.as_ref()
            && id == bundle
        {
            return signers.clone();
        }
        let signers = blocking(move || {
            let layout = airlift_store::layout::Layout::new(&home);
            let root = std::fs::read(layout.trusted_root())?;
            let targets = std::fs::read(layout.tuf_state_dir().join("targets.json"))?;
            let info = airlift_trust::RootInfo::parse(&root).map_err(Unavailable)?;
            let file: serde_json::Value = serde_json::from_slice(&targets)?;
            let tally =
                airlift_trust::roles::tally(&info, "targets", &file).map_err(Unavailable)?;
            Ok(tally
                .signed_by
                .iter()
                .map(|keyid| info.describe(keyid))
                .collect::<Vec<_>>())
        })
        .await
        .unwrap_or_default();
        let signers = Arc::new(signers);
        *kept = Some((bundle.to_owned(), signers.clone()));
        signers
    }

    /// What generation `id` changed against the one before it, while both
    /// are kept (`None` once the one before was pruned). Computed once.
    pub async fn changes(&self, id: u64) -> Option<Changes> {
        if id == 1 {
            return self.between(None, 1).await;
        }
        self.between(Some(id - 1), id).await
    }

    /// What moving from generation `from` (nothing when `None`) to `to`
    /// changes, while both are kept. Computed once per pair: generations
    /// are immutable.
    pub async fn between(&self, from: Option<u64>, to: u64) -> Option<Changes> {
        let key = (from.unwrap_or(0), to);
        if let Some(known) = self.changes.lock().await.get(&key) {
            return *known;
        }
        let store = self.ui.store.clone();
        let changes = blocking(move || {
            let generations = store.meta.generations()?;
            let kept = |id: u64| generations.iter().any(|g| g.id == id);
            if !kept(to) || from.is_some_and(|f| !kept(f)) {
                return Ok(None);
            }
            let before: HashMap<(String, String), airlift_core::Digest> = match from {
                Some(from) => store
                    .meta
                    .entries(from, None)?
                    .into_iter()
                    .map(|e| ((e.ecosystem, e.key), e.digest))
                    .collect(),
                None => HashMap::new(),
            };
            let mut changes = Changes::default();
            let mut seen = 0u64;
            store.meta.for_each_entry(to, None, &mut |entry| {
                match before.get(&(entry.ecosystem, entry.key)) {
                    None => changes.added += 1,
                    Some(digest) => {
                        seen += 1;
                        if *digest != entry.digest {
                            changes.changed += 1;
                        }
                    }
                }
                Ok(())
            })?;
            changes.removed = before.len() as u64 - seen;
            Ok(Some(changes))
        })
        .await
        .unwrap_or(None);
        self.changes.lock().await.insert(key, changes);
        changes
    }
}
