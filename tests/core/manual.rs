//! Issue #15: shell completions that bash loads and completes with, manual pages that groff reads, and the release
//! archive (`.ci/package`) that ships both.

use std::path::Path;
use std::process::Command;

use crate::support::Sandbox;

const EXE: &str = env!("CARGO_BIN_EXE_tokenfob");

/// What bash's completion function offers for the words `line` (the last one being completed).
fn complete(s: &Sandbox, source: &str, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let script = format!(
        "{source}\nCOMP_WORDS=({line}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n\
         _tokenfob tokenfob '{cur}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        cword = words.len() - 1,
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    s.bash(&script).ok().lines().map(|l| l.trim().to_owned()).collect()
}

#[test]
fn bash_loads_the_completions_and_completes_subcommands_and_values() {
    let s = Sandbox::new();
    let source = format!("source <({EXE} completions bash)");
    let loaded = s.bash(&format!("{source}\ncomplete -p tokenfob")).ok().to_owned();
    assert!(loaded.contains("-F _tokenfob tokenfob"), "{loaded}");
    assert_eq!(complete(&s, &source, "tokenfob wi"), ["wire"]);
    assert_eq!(complete(&s, &source, "tokenfob completions ba"), ["bash"]);
    let tools = complete(&s, &source, "tokenfob wire ");
    for tool in ["kubectl", "git", "curl", "httpie", "cargo", "terraform", "bazel", "go", "docker", "pnpm", "pip"] {
        assert!(tools.iter().any(|t| t == tool), "{tool} not offered: {tools:?}");
    }
    assert!(complete(&s, &source, "tokenfob wire git --ap").contains(&"--apply".to_owned()));
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_shell_is_refused() {
    let s = Sandbox::new();
    for (shell, marker) in [
        ("bash", "complete -F _tokenfob"),
        ("zsh", "#compdef tokenfob"),
        ("fish", "complete -c tokenfob"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[tokenfob]"),
    ] {
        let out = s.run(&["completions", shell]).ok().to_owned();
        assert!(out.contains(marker) && out.contains("wire"), "{shell}: {marker:?} not in its script");
    }
    s.run(&["completions", "tcsh"]).fails(2, "invalid value 'tcsh'");
}

/// Renders roff with groff when it is installed, failing on any warning; else checks the page's skeleton.
fn renders(s: &Sandbox, page: &str) {
    assert!(page.contains(".TH ") && page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"), "{page}");
    if s.bash("command -v groff").code != 0 {
        return;
    }
    let file = s.dir.path().join("page.1");
    std::fs::write(&file, page).unwrap();
    let out = s.bash(&format!("groff -man -Tutf8 -ww {} 2>&1 >/dev/null", file.display()));
    assert_eq!(out.ok(), "", "groff warned");
    let text = s.bash(&format!("groff -man -Tascii -P-cbou {}", file.display())).ok().to_owned();
    assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
}

#[test]
fn the_manual_pages_render() {
    let s = Sandbox::new();
    let main = s.run(&["man"]).ok().to_owned();
    renders(&s, &main);
    assert!(main.contains(".TH tokenfob 1") && main.contains("tokenfob\\-wire(1)"), "{main}");
    let wire = s.run(&["man", "wire"]).ok().to_owned();
    renders(&s, &wire);
    assert!(wire.contains(".TH tokenfob-wire 1") && wire.contains("\\-\\-apply"), "{wire}");
    s.run(&["man", "frob"]).fails(2, "no subcommand named \"frob\"");
}

#[test]
fn the_release_archive_holds_the_binary_completions_man_pages_and_docs() {
    if Command::new("tar").arg("--version").output().is_err() {
        return;
    }
    let s = Sandbox::new();
    let out = s.dir.path().join("dist");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/package");
    let run = s.bash(&format!("{} --bin {EXE} --out {}", script.display(), out.display()));
    let archive = run.ok().trim().to_owned();
    assert!(archive.ends_with(".tar.gz"), "{run:#?}");
    let listing = s.bash(&format!("tar -tzf {archive}")).ok().to_owned();
    let name = Path::new(&archive).file_name().unwrap().to_str().unwrap().trim_end_matches(".tar.gz").to_owned();
    for file in [
        "tokenfob",
        "README.md",
        "docs/integrations.md",
        "docs/configuration.md",
        "completions/tokenfob.bash",
        "completions/_tokenfob",
        "completions/tokenfob.fish",
        "completions/_tokenfob.ps1",
        "completions/tokenfob.elv",
        "man/man1/tokenfob.1",
        "man/man1/tokenfob-get.1",
        "man/man1/tokenfob-wire.1",
        "integrations/httpie/pyproject.toml",
    ] {
        assert!(listing.lines().any(|l| l == format!("{name}/{file}")), "{file} not in\n{listing}");
    }
    // What is in it works: the packed binary runs, and bash loads the packed completions.
    let unpacked = s.dir.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    s.bash(&format!("tar -xzf {archive} -C {}", unpacked.display())).ok();
    let root = unpacked.join(&name);
    let source = format!("source {}", root.join("completions/tokenfob.bash").display());
    assert_eq!(complete(&s, &source, "tokenfob wi"), ["wire"]);
    let version = s.bash(&format!("{} --version", root.join("tokenfob").display())).ok().to_owned();
    assert!(version.starts_with("tokenfob "), "{version}");
}
