//! The dependency-direction invariants of README's Architecture section,
//! checked on the source: `codex` and `auth` name nothing of the Anthropic
//! API (nor of the layers above them), so the upstream and the login can
//! change without the client's protocol, and the other way round.

use std::path::Path;

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    assert!(!files.is_empty(), "no sources under {}", dir.display());
    files
}

#[test]
fn codex_and_auth_name_nothing_of_the_anthropic_api_nor_of_the_layers_above() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let forbidden = ["anthropic::", "ApiError", "crate::translate", "crate::server"];
    let mut found = Vec::new();
    for module in ["codex", "auth"] {
        for (path, text) in sources(&src.join(module)) {
            for (number, line) in text.lines().enumerate() {
                for name in forbidden {
                    if line.contains(name) {
                        found.push(format!("{path}:{}: {name}: {}", number + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "codex/ and auth/ must not name these (README, Architecture):\n{}", found.join("\n"));
}
