//! The environment layer: `IVCRUSH_*` variables (nested keys with `__`, e.g.
//! `IVCRUSH_SCAN__CONCURRENCY`) and the conventional variables of the vendors, the database and
//! Redis. The environment is shared with other software (Kubernetes injects `IVCRUSH_PORT`,
//! `IVCRUSH_SERVICE_HOST` for a Service named `ivcrush`), so a variable that names no setting
//! is a warning, never an error; the file is ours, so an unknown key there stays an error.

use std::collections::BTreeSet;

use figment::value::Value;

use super::server::{ADMIN_KEYS_ENV, API_KEYS_ENV};

/// Prefix of our variables.
pub const ENV_PREFIX: &str = "IVCRUSH_";

/// The conventional variables and the setting each one sets (taken verbatim as strings, and
/// over `IVCRUSH_*`).
pub const CONVENTIONAL_ENV: [(&str, &str); 7] = [
    ("DATABASE_URL", "database_url"),
    ("TRADIER_API_KEY", "tradier.api_key"),
    ("TRADIER_BASE_URL", "tradier.base_url"),
    ("ALPHAVANTAGE_API_KEY", "alphavantage.api_key"),
    ("ALPHAVANTAGE_BASE_URL", "alphavantage.base_url"),
    ("REDIS_URL", "ticker.redis"),
    ("TRADIER_WS_URL", "ticker.tradier_ws_url"),
];

/// What the environment contributes.
#[derive(Debug, Default)]
pub(crate) struct EnvLayer {
    /// `IVCRUSH_*` settings: dotted key and parsed value.
    pub(crate) prefixed: Vec<(String, Value)>,
    /// Conventional variables: dotted key and the text.
    pub(crate) conventional: Vec<(String, Value)>,
    /// `IVCRUSH_API_KEYS`, when set.
    pub(crate) api_keys: Option<String>,
    /// `IVCRUSH_ADMIN_KEYS`, added to `server.admin_keys`.
    pub(crate) admin_keys: Option<String>,
    /// One line per ignored variable.
    pub(crate) warnings: Vec<String>,
}

/// Every dotted key of `tree` (tables and their leaves; an array is a leaf).
pub(crate) fn key_paths(tree: &serde_json::Value) -> BTreeSet<String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeSet<String>) {
        if let serde_json::Value::Object(m) = v {
            for (k, child) in m {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(&path, child, out);
                out.insert(path);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk("", tree, &mut out);
    out
}

/// The variable that sets `key` (`scan.concurrency` → `IVCRUSH_SCAN__CONCURRENCY`).
pub fn env_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        key.replace('.', "__").to_ascii_uppercase()
    )
}

/// The known variable closest to `name`, when close enough to be a likely typo.
fn suggestion(name: &str, known: &BTreeSet<String>) -> Option<String> {
    let name = name.to_ascii_uppercase();
    known
        .iter()
        .map(|k| env_name(k))
        .chain([API_KEYS_ENV.to_owned(), ADMIN_KEYS_ENV.to_owned()])
        .map(|candidate| {
            (
                strsim::normalized_damerau_levenshtein(&name, &candidate),
                candidate,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// Splits `vars` into settings and warnings; `known` holds every dotted key of the tree.
pub(crate) fn read(
    vars: impl IntoIterator<Item = (String, String)>,
    known: &BTreeSet<String>,
) -> EnvLayer {
    let mut vars: Vec<(String, String)> = vars.into_iter().collect();
    vars.sort();
    let mut layer = EnvLayer::default();
    for (name, value) in vars {
        if let Some((_, key)) = CONVENTIONAL_ENV.iter().find(|(var, _)| *var == name) {
            layer
                .conventional
                .push(((*key).to_owned(), Value::from(value)));
            continue;
        }
        let Some(rest) = name
            .get(..ENV_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(ENV_PREFIX))
            .map(|_| &name[ENV_PREFIX.len()..])
        else {
            continue;
        };
        if name.eq_ignore_ascii_case(API_KEYS_ENV) {
            layer.api_keys = Some(value);
            continue;
        }
        if name.eq_ignore_ascii_case(ADMIN_KEYS_ENV) {
            layer.admin_keys = Some(value);
            continue;
        }
        let key = rest.to_ascii_lowercase().replace("__", ".");
        if known.contains(&key) {
            let parsed = value
                .parse::<Value>()
                .unwrap_or_else(|never| match never {});
            layer.prefixed.push((key, parsed));
        } else {
            let hint = suggestion(&name, known)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            layer.warnings.push(format!(
                "environment variable {name} is not an ivcrush setting: ignored{hint}"
            ));
        }
    }
    layer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> BTreeSet<String> {
        key_paths(&serde_json::json!({
            "provider": "sim",
            "scan": {"concurrency": 8, "days": 7},
            "server": {"bind": "127.0.0.1:8080"},
        }))
    }

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn key_paths_list_tables_and_leaves() {
        let k = known();
        for key in ["provider", "scan", "scan.concurrency", "server.bind"] {
            assert!(k.contains(key), "{key}");
        }
    }

    #[test]
    fn kubernetes_service_variables_are_warnings_not_errors() {
        let layer = read(
            vars(&[
                ("IVCRUSH_PORT", "tcp://10.0.0.1:8080"),
                ("IVCRUSH_SERVICE_HOST", "10.0.0.1"),
                ("IVCRUSH_SCAN__CONCURRENCY", "4"),
                ("PATH", "/bin"),
            ]),
            &known(),
        );
        assert_eq!(layer.prefixed.len(), 1);
        assert_eq!(layer.prefixed[0].0, "scan.concurrency");
        assert_eq!(layer.warnings.len(), 2, "{:?}", layer.warnings);
        assert!(layer.warnings[0].contains("IVCRUSH_PORT"));
        assert!(!layer.warnings.iter().any(|w| w.contains("did you mean")));
    }

    #[test]
    fn a_near_miss_gets_a_suggestion() {
        let layer = read(vars(&[("IVCRUSH_SCAN_CONCURRENCY", "4")]), &known());
        assert!(layer.prefixed.is_empty());
        assert!(
            layer.warnings[0].contains("did you mean IVCRUSH_SCAN__CONCURRENCY?"),
            "{:?}",
            layer.warnings
        );
        let layer = read(vars(&[("IVCRUSH_API_KEY", "x")]), &known());
        assert!(layer.warnings[0].contains("did you mean IVCRUSH_API_KEYS?"));
    }

    #[test]
    fn conventional_variables_and_api_keys_are_routed() {
        let layer = read(
            vars(&[
                ("REDIS_URL", "redis://r:6379"),
                ("TRADIER_API_KEY", "12345"),
                ("IVCRUSH_API_KEYS", "a,b"),
            ]),
            &known(),
        );
        let keys: Vec<&str> = layer.conventional.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["ticker.redis", "tradier.api_key"]);
        // A numeric-looking key stays text.
        assert_eq!(layer.conventional[1].1.as_str(), Some("12345"));
        assert_eq!(layer.api_keys.as_deref(), Some("a,b"));
        assert!(layer.warnings.is_empty());
    }
}
