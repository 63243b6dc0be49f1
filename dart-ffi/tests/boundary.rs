//! Every exported function runs its whole body under the panic guard:
//! `guard(...)` or `catch(...)` is the body's only expression.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

/// `(file, function name, body)` of every `extern "C" fn` in `src/`.
fn exported_bodies() -> Vec<(String, String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&src).expect("src/ lists") {
        let path = entry.expect("src/ entry").path();
        let text = std::fs::read_to_string(&path).expect("source reads");
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("extern \"C\" fn ") {
            let after = &rest[at + "extern \"C\" fn ".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // The body: from the first `{` after the signature to its match.
            let open = after.find('{').expect("a body");
            let mut depth = 0usize;
            let mut end = open;
            for (i, c) in after[open..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            found.push((file.clone(), name, after[open + 1..end].to_string()));
            rest = &after[end..];
        }
    }
    found
}

/// The index of the `)` that closes the `(` at `open`.
fn closing_paren(code: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in code.char_indices().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[test]
fn every_exported_body_runs_under_the_guard() {
    let bodies = exported_bodies();
    assert!(
        bodies.len() > 40,
        "found only {} exported functions",
        bodies.len()
    );
    for (file, name, body) in bodies {
        if !name.starts_with("dart_") {
            continue; // a callback type's signature, not an exported function
        }
        let code: String = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .collect::<Vec<_>>()
            .join(" ");
        let guarded = (code.starts_with("guard(") || code.starts_with("catch("))
            && closing_paren(&code, "guard".len()) == Some(code.len() - 1);
        assert!(
            guarded,
            "{file}: {name} does not run its whole body under guard() or catch(): {code}"
        );
    }
}
