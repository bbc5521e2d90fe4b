//! The crate's shape, checked from its sources: everything about a built-in provider lives in
//! that provider's file, production code does not lean on the test kit, and no string is leaked
//! to live forever. Each check reads `src/` as it is, so a change that breaks the layout fails
//! here, with the file and line that did it.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, depth first.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The file's code lines with their numbers: comment lines dropped, and everything from the
/// first `#[cfg(test)]` item on cut (the unit tests sit at the end and may name providers).
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = fs::read_to_string(path).expect("a source file is text");
    let end = text.find("#[cfg(test)]\n").unwrap_or(text.len());
    text[..end]
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .map(|(at, line)| (at + 1, line.to_owned()))
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The provider whose own file `path` is, if it is one.
fn own_provider(path: &Path) -> Option<String> {
    let parent = path.parent()?;
    (parent.file_name()? == "providers" && path.file_name()? != "mod.rs")
        .then(|| {
            path.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .flatten()
}

#[test]
fn no_code_outside_a_providers_file_chooses_by_its_name() {
    let mut names: Vec<&str> = Vec::new();
    for provider in verihook::providers::ALL {
        names.push(provider.name);
        names.extend(provider.aliases);
    }
    assert!(
        names.len() >= 12,
        "the registry lists the built-in providers"
    );
    let mut found = Vec::new();
    for path in sources(&src()) {
        if own_provider(&path).is_some() {
            continue;
        }
        for (at, line) in code_lines(&path) {
            for name in &names {
                let quoted = format!("\"{name}\"");
                let chooses = [
                    format!("{quoted} =>"),
                    format!("{quoted} |"),
                    format!("| {quoted}"),
                    format!("== {quoted}"),
                    format!("!= {quoted}"),
                    format!("eq_ignore_ascii_case({quoted})"),
                ];
                if chooses
                    .iter()
                    .any(|pattern| line.contains(pattern.as_str()))
                {
                    found.push(format!("{}:{at}: {}", path.display(), line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "behaviour picked by a provider's name outside its file:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_provider_file_names_no_other_provider_module() {
    let mut found = Vec::new();
    for path in sources(&src().join("providers")) {
        let Some(own) = own_provider(&path) else {
            continue;
        };
        for provider in verihook::providers::ALL {
            let module = provider.name.replace('-', "_");
            let module = if module == "standard_webhooks" {
                "standard".to_owned()
            } else {
                module
            };
            if module == own {
                continue;
            }
            let path_to_it = format!("providers::{module}::");
            for (at, line) in code_lines(&path) {
                // GitLab's signing token reuses Standard Webhooks' verifier: the one allowed
                // dependency between providers, on purpose.
                if own == "gitlab" && module == "standard" {
                    continue;
                }
                if line.contains(&path_to_it) {
                    found.push(format!("{}:{at}: {}", path.display(), line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "a provider reaching into another's file:\n{}",
        found.join("\n")
    );
}

#[test]
fn production_code_does_not_use_the_test_kit() {
    let mut found = Vec::new();
    for path in sources(&src()) {
        let relative = path
            .strip_prefix(src())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // The test kit itself, the CLI (which signs samples with it) and the providers' own
        // signers and samples (which live in each provider's file) are its users by design.
        if ["testing", "bin", "providers/"]
            .iter()
            .any(|kit| relative.starts_with(kit))
        {
            continue;
        }
        for (at, line) in code_lines(&path) {
            if line.contains("crate::testing::") || line.contains("use crate::testing") {
                found.push(format!("{relative}:{at}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "production code using the test kit:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_string_is_leaked() {
    let mut found = Vec::new();
    for path in sources(&src()) {
        // A declared scheme's header display names and body member names, read from its spec
        // once at start-up, are kept for the process's life: `VerifyError::MissingHeader` and
        // `Field::Body` name them as `&'static str`. One copy per distinct name, never per
        // request or per event; scheme names themselves are shared, not leaked.
        let allowed = usize::from(path.ends_with("scheme/declared.rs"));
        let leaks: Vec<String> = code_lines(&path)
            .into_iter()
            .filter(|(_, line)| line.contains("Box::leak") || line.contains(".leak()"))
            .map(|(at, line)| format!("{}:{at}: {}", path.display(), line.trim()))
            .collect();
        if leaks.len() > allowed {
            found.extend(leaks);
        }
    }
    assert!(
        found.is_empty(),
        "leaked allocations (an interner grows for ever):\n{}",
        found.join("\n")
    );
}
