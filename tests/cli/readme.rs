//! The README's offline examples, run as printed: every line of a ```` ```sh offline ```` block
//! (after `clipscope demo --no-tui`, offline, which builds the probe CLIP's store), and where
//! such a block holds one command followed by a ```` ```text ```` block, its output compared
//! with what the README shows (numbers within 2e-3: the store is computed on this CPU).

use std::path::Path;

/// The offline examples: (command lines, the output shown after a one-command block).
fn examples(readme: &str) -> Vec<(Vec<String>, Option<String>)> {
    let mut out = vec![];
    let mut lines = readme.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() != "```sh offline" {
            continue;
        }
        let cmds: Vec<String> = lines
            .by_ref()
            .take_while(|l| l.trim() != "```")
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        while lines.peek().is_some_and(|l| l.trim().is_empty()) {
            lines.next();
        }
        let shown = match lines.peek() {
            Some(l) if l.trim() == "```text" && cmds.len() == 1 => {
                lines.next();
                let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
                Some(body.join("\n"))
            }
            _ => None,
        };
        out.push((cmds, shown));
    }
    out
}

/// Whether `got` reads as `want`: the same words, numbers within 2e-3.
fn same(got: &str, want: &str) -> bool {
    let (g, w): (Vec<&str>, Vec<&str>) = (
        got.split_whitespace().collect(),
        want.split_whitespace().collect(),
    );
    g.len() == w.len()
        && g.iter().zip(&w).all(|(a, b)| {
            a == b
                || match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(x), Ok(y)) => (x - y).abs() <= 2e-3,
                    _ => false,
                }
        })
}

#[test]
fn the_readme_s_offline_examples_run_as_printed() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let examples = examples(&readme);
    assert!(examples.len() >= 2, "the README has offline examples");
    assert!(
        examples.iter().any(|e| e.1.is_some()),
        "and shows an output"
    );
    let tmp = tempfile::tempdir().unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_clipscope"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |line: &str| {
        std::process::Command::new("bash")
            .args(["-c", line])
            .current_dir(tmp.path())
            .env("PATH", &path)
            .env("CLIPSCOPE_CACHE", tmp.path().join("cache"))
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_HOME", tmp.path().join("hf"))
            .env_remove("CLIPSCOPE_MODEL")
            .output()
            .unwrap()
    };
    let demo = run("clipscope demo --no-tui");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    for (cmds, shown) in examples {
        for line in &cmds {
            let out = run(line);
            let (so, se) = (
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
            assert!(out.status.success(), "README: `{line}` failed: {se}");
            if let Some(want) = &shown {
                assert!(
                    same(&so, want),
                    "README: `{line}` prints\n{so}\nwhere the README shows\n{want}"
                );
            }
        }
    }
}

#[test]
fn outputs_compare_by_words_and_numbers() {
    assert!(same("L1H2  0.18470 #883", "L1H2 0.1855 #883"));
    assert!(!same("L1H2 0.18470 #883", "L1H2 0.1900 #883"));
    assert!(!same("L1H2 0.18470 #883", "L1H2 0.18470 #884"));
    assert!(!same("a b", "a b c"));
    let md = "x\n```sh offline\n# c\nclipscope a\n```\n\n```text\nout 1\n```\n```sh offline\nclipscope b\nclipscope c\n```\n";
    let e = examples(md);
    assert_eq!(e.len(), 2);
    assert_eq!(
        e[0],
        (vec!["clipscope a".to_string()], Some("out 1".to_string()))
    );
    assert_eq!(e[1].0.len(), 2);
    assert_eq!(e[1].1, None);
}
