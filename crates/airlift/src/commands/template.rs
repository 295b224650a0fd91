//! `airlift template`: a commented airlift.toml with every table.

use super::*;

/// A commented airlift.toml with every table, for a new connected side.
const TEMPLATE: &str = include_str!("../template.toml");

pub(crate) fn template(context: &Context) -> Result<(), Failure> {
    context.print_line(TEMPLATE.trim_end())
}

#[cfg(test)]
mod tests {
    /// `airlift template` must print a configuration that airlift reads,
    /// with a table for every registered ecosystem, each planning
    /// something.
    #[test]
    fn the_template_parses_and_has_every_table() {
        let path = std::path::Path::new("airlift.toml");
        let ecosystems = crate::ecosystems::all();
        let tables: Vec<&'static str> = ecosystems
            .iter()
            .map(|e| e.table().key)
            .filter(|key| !key.is_empty())
            .collect();
        let config = airlift_config::Config::parse(path, super::TEMPLATE, &tables)
            .unwrap_or_else(|e| panic!("the template does not parse: {e}"));
        let declared = airlift_ecosystem::Declared {
            path,
            text: super::TEMPLATE,
            base: std::path::Path::new("."),
        };
        for ecosystem in ecosystems.iter().filter(|e| !e.table().is_none()) {
            let key = ecosystem.table().key;
            assert!(
                config.tables.iter().any(|t| t == key),
                "the template has no [{key}] table"
            );
            let plan = ecosystem
                .plan(&declared)
                .unwrap_or_else(|e| panic!("[{key}] of the template does not plan: {e}"));
            assert!(
                plan.is_some_and(|p| !p.is_empty()),
                "[{key}] of the template plans nothing"
            );
        }
    }
}
