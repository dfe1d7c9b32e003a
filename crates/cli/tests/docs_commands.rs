//! Every command shown in a shell block of the docs is run here, or is marked as needing AWS or a
//! cluster, or is on the allow-list below with the reason it is not run (issue 17's first check).
//!
//! Which blocks: fenced blocks tagged `sh`, `bash`, `console` or `shell`, and untagged blocks with
//! a line that starts with `$ ` or a known command, in README.md, infra/README.md, k8s/README.md,
//! tests/README.md and docs/**/*.md. In a block with `$ ` lines only those are commands (the rest
//! is their output); otherwise every line that is not blank or a comment is one, `\` continuing it.
//!
//! Each command is, in this order:
//! - **marked**: its block has a comment line `# needs AWS` or `# needs a cluster`; not run.
//! - **a usage synopsis**: it shows optional arguments (`[--flag ...]`) or alternatives
//!   (`<a|b>`), so it is grammar, not a command; not run.
//! - **run**: `smartscale ARGS` or `cargo run [--release] -p smartscale -- ARGS`, run as the built
//!   binary with ARGS, in a fresh temporary directory so its outputs land there; an argument that
//!   names a path existing under the repository root is made absolute, so inputs resolve as from
//!   the root. It must exit 0 (or N where its comment says `exits N`) within [`RUN_LIMIT`].
//!   Heavy runs are shortened ONLY where the block says so: a comment line `# docs test: --days 1`
//!   makes every command of that block run with `--days 1` (replacing the `--days` shown, or added).
//! - **allow-listed**: a local command in [`NOT_RUN_HERE`], with the reason it is not run here.
//!
//! Anything else, and any run that fails, fails the test naming the file, line and command.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one documented run may take before it counts as not finishing.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Local commands the docs show that this test does not run, by their leading words, and why.
const NOT_RUN_HERE: &[(&str, &str)] = &[
    ("scripts/test", "the test command itself; this test runs inside it"),
    ("scripts/check-k8s", "a check of its own that scripts/test runs (run_check check-k8s)"),
    (
        "scripts/render-diagrams",
        "rewrites docs/diagrams/*.svg and *.png in the working tree (installs Debian's graphviz); scripts/check-docs re-renders with it (`--out DIR`) and compares",
    ),
    (
        "scripts/measure-decider",
        "a release build plus 50 timed invocations: minutes, and it measures, it does not check",
    ),
    (
        "cargo lambda",
        "needs cargo-lambda, a moto_server and a Prometheus the reader starts; `watch` runs until stopped",
    ),
];

/// First words that make an untagged block a shell block.
const KNOWN_COMMANDS: &[&str] =
    &["smartscale", "cargo", "kubectl", "aws", "sam", "promtool", "amtool", "curl", "jq", "k6", "python3", "pip"];

const SHELL_TAGS: &[&str] = &["sh", "bash", "console", "shell"];

#[derive(Debug)]
struct Block {
    file: String,
    /// 1-based line of each body line, with its text.
    lines: Vec<(usize, String)>,
}

impl Block {
    fn has_comment(&self, marker: &str) -> bool {
        self.lines.iter().any(|(_, text)| text.trim().starts_with('#') && text.contains(marker))
    }
    fn needs_remote(&self) -> bool {
        self.has_comment("# needs AWS") || self.has_comment("# needs a cluster")
    }
    fn shortened_to_one_day(&self) -> bool {
        self.has_comment("docs test: --days 1")
    }
}

#[derive(Debug)]
struct DocCommand {
    file: String,
    line: usize,
    text: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn doc_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "infra/README.md", "k8s/README.md", "tests/README.md"]
        .iter()
        .map(|name| root.join(name))
        .filter(|path| path.exists())
        .collect();
    let mut dirs = vec![root.join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}

fn looks_like_command(text: &str) -> bool {
    let text = text.trim();
    let word = first_word(text);
    text.starts_with("$ ")
        || KNOWN_COMMANDS.contains(&word)
        || word.starts_with("scripts/")
        || word.starts_with("tests/")
}

/// A fenced block being read: its fence, its tag, its lines so far.
type OpenBlock = (String, String, Vec<(usize, String)>);

/// The shell blocks of one Markdown file.
fn shell_blocks(file: &str, markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<OpenBlock> = None;
    for (index, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let fence = ["```", "~~~"].iter().find(|f| trimmed.starts_with(**f));
        match (&mut open, fence) {
            (None, Some(fence)) => {
                let tag = trimmed.trim_start_matches(['`', '~']).trim();
                let tag = tag.split(|c: char| c.is_whitespace() || c == ',' || c == '{').next().unwrap_or("");
                open = Some((fence.to_string(), tag.to_lowercase(), Vec::new()));
            }
            (Some((open_fence, _, _)), Some(fence)) if open_fence == fence => {
                let (_, tag, lines) = open.take().unwrap();
                let is_shell = SHELL_TAGS.contains(&tag.as_str())
                    || (tag.is_empty() && lines.iter().any(|(_, text)| looks_like_command(text)));
                if is_shell {
                    blocks.push(Block { file: file.to_string(), lines });
                }
            }
            (Some((_, _, lines)), _) => lines.push((index + 1, line.to_string())),
            (None, None) => {}
        }
    }
    blocks
}

/// The commands of a block: `$ ` lines where there are any, else every non-comment line, with
/// `\` continuations joined and heredoc bodies skipped.
fn commands(block: &Block) -> Vec<DocCommand> {
    let console = block.lines.iter().any(|(_, text)| text.trim_start().starts_with("$ "));
    let mut found = Vec::new();
    let mut pending: Option<DocCommand> = None;
    let mut heredoc_end: Option<String> = None;
    for (line, text) in &block.lines {
        if let Some(end) = &heredoc_end {
            if text.trim() == end {
                heredoc_end = None;
            }
            continue;
        }
        let mut text = text.trim().to_string();
        if let Some(command) = pending.as_mut() {
            command.text.push(' ');
            command.text.push_str(text.trim_end_matches('\\').trim());
        } else {
            if console {
                match text.strip_prefix("$ ") {
                    Some(rest) => text = rest.to_string(),
                    None => continue,
                }
            }
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            pending = Some(DocCommand {
                file: block.file.clone(),
                line: *line,
                text: text.trim_end_matches('\\').trim().to_string(),
            });
        }
        if let Some(start) = text.find("<<") {
            let word = text[start + 2..].trim_start_matches('-').trim();
            let word = word.split_whitespace().next().unwrap_or("").trim_matches(|c| c == '\'' || c == '"');
            if !word.is_empty() {
                heredoc_end = Some(word.to_string());
            }
        }
        if !text.ends_with('\\') {
            found.extend(pending.take());
        }
    }
    found.extend(pending);
    found
}

/// The text before an unquoted ` #` comment, and the comment.
fn split_comment(text: &str) -> (&str, &str) {
    let (mut single, mut double, mut previous) = (false, false, ' ');
    for (at, c) in text.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => return (text[..at].trim(), &text[at..]),
            _ => {}
        }
        previous = c;
    }
    (text.trim(), "")
}

/// Shell words with quotes removed; `Err` names what this test does not run (pipes, redirects,
/// substitutions, variables, background jobs, lists).
fn shell_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let quoted: String = chars.by_ref().take_while(|&c| c != '\'').collect();
                word.get_or_insert_with(String::new).push_str(&quoted);
            }
            '"' => {
                let mut quoted = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '$' | '`' => return Err(format!("`{c}` inside double quotes")),
                        '\\' => quoted.extend(chars.next()),
                        _ => quoted.push(c),
                    }
                }
                word.get_or_insert_with(String::new).push_str(&quoted);
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            '|' | '>' | '<' | ';' | '&' | '$' | '`' | '(' | ')' => {
                return Err(format!("shell syntax `{c}`"));
            }
            c if c.is_whitespace() => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

fn is_synopsis(text: &str) -> bool {
    let angle_alternatives =
        text.split('<').skip(1).any(|rest| rest.split('>').next().is_some_and(|inside| inside.contains('|')));
    let optional = text.split_whitespace().any(|word| word.starts_with('['));
    optional || angle_alternatives
}

/// The arguments of a `smartscale` command, or None when the command is not one.
fn smartscale_args(words: &[String]) -> Option<Vec<String>> {
    match words.first().map(String::as_str) {
        Some("smartscale") => Some(words[1..].to_vec()),
        Some("cargo") if words.get(1).is_some_and(|w| w == "run") => {
            let mut rest = &words[2..];
            if rest.first().is_some_and(|w| w == "--release") {
                rest = &rest[1..];
            }
            match rest {
                [p, name, dashes, args @ ..] if p == "-p" && name == "smartscale" && dashes == "--" => {
                    Some(args.to_vec())
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn allow_listed(text: &str) -> Option<&'static str> {
    let words: Vec<&str> = text.split_whitespace().collect();
    NOT_RUN_HERE.iter().find_map(|(prefix, reason)| {
        let prefix: Vec<&str> = prefix.split_whitespace().collect();
        words.starts_with(&prefix).then_some(*reason)
    })
}

fn with_one_day(mut args: Vec<String>) -> Vec<String> {
    match args.iter().position(|a| a == "--days") {
        Some(at) if at + 1 < args.len() => args[at + 1] = "1".to_string(),
        _ => {
            args.retain(|a| !a.starts_with("--days="));
            args.extend(["--days".to_string(), "1".to_string()]);
        }
    }
    args
}

/// An argument naming a path that exists under the repository root, made absolute (also the
/// value of `--flag=PATH`); anything else as it is.
fn resolved(root: &Path, arg: &str) -> String {
    let (flag, value) = match arg.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") => (Some(flag), value),
        _ => (None, arg),
    };
    if value.is_empty() || value.starts_with('-') || Path::new(value).is_absolute() || !root.join(value).exists() {
        return arg.to_string();
    }
    let path = root.join(value).display().to_string();
    match flag {
        Some(flag) => format!("{flag}={path}"),
        None => path,
    }
}

/// Runs the built binary; Err says how it failed.
fn run(root: &Path, args: &[String], expected_exit: i32, scratch: &Path) -> Result<(), String> {
    let args: Vec<String> = args.iter().map(|a| resolved(root, a)).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartscale"))
        .args(&args)
        .current_dir(scratch)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("did not finish within {} s", RUN_LIMIT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stderr);
    }
    match status.code() {
        Some(code) if code == expected_exit => Ok(()),
        code => Err(format!(
            "exit {code:?}, documented {expected_exit}; ran `smartscale {}`; stderr: {}",
            args.join(" "),
            stderr.trim()
        )),
    }
}

/// `exits N` in a command's comment: the status the docs say it ends with.
fn documented_exit(comment: &str) -> i32 {
    let words: Vec<&str> = comment.split_whitespace().collect();
    words
        .windows(2)
        .find(|pair| pair[0] == "exits")
        .and_then(|pair| pair[1].trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or(0)
}

#[derive(Default, Debug)]
struct Tally {
    run: usize,
    marked: usize,
    synopsis: usize,
    allow_listed: usize,
    problems: Vec<String>,
}

fn check_block(root: &Path, block: &Block, scratch: &Path, tally: &mut Tally) {
    for command in commands(block) {
        let at = format!("{}:{}: `{}`", command.file, command.line, command.text);
        if block.needs_remote() {
            eprintln!("marked       {at}");
            tally.marked += 1;
            continue;
        }
        let (text, comment) = split_comment(&command.text);
        if is_synopsis(text) {
            eprintln!("synopsis     {at}");
            tally.synopsis += 1;
            continue;
        }
        if let Some(reason) = allow_listed(text) {
            eprintln!("allow-listed {at}: {reason}");
            tally.allow_listed += 1;
            continue;
        }
        let plain_words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        if smartscale_args(&plain_words).is_none() {
            tally.problems.push(format!(
                "{at}: unclassified: not a smartscale command, not allow-listed in {}, and its block has no `# needs AWS` / `# needs a cluster` line",
                file!()
            ));
            continue;
        }
        let args = match shell_words(text).map(|words| smartscale_args(&words)) {
            Ok(Some(args)) => args,
            Ok(None) => unreachable!("the plain words were a smartscale command"),
            Err(why) => {
                tally.problems.push(format!(
                    "{at}: a smartscale command with {why} is not run here; mark its block or show the plain command"
                ));
                continue;
            }
        };
        let args = if block.shortened_to_one_day() { with_one_day(args) } else { args };
        let dir = scratch.join(format!("run-{}", tally.run));
        std::fs::create_dir_all(&dir).unwrap();
        match run(root, &args, documented_exit(comment), &dir) {
            Ok(()) => {
                eprintln!("ran          {at}: `smartscale {}`", args.join(" "));
                tally.run += 1;
            }
            Err(why) => tally.problems.push(format!("{at}: {why}")),
        }
    }
}

#[test]
fn every_command_in_the_docs_is_run_marked_or_allow_listed() {
    let root = repo_root();
    let scratch = std::env::temp_dir().join(format!("smartscale-docs-commands-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut tally = Tally::default();
    for path in doc_files(&root) {
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        let markdown = std::fs::read_to_string(&path).unwrap();
        for block in shell_blocks(&name, &markdown) {
            check_block(&root, &block, &scratch, &mut tally);
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    eprintln!(
        "docs commands: {} run, {} marked as needing AWS or a cluster, {} allow-listed, {} usage synopses",
        tally.run, tally.marked, tally.allow_listed, tally.synopsis
    );
    assert!(
        tally.problems.is_empty(),
        "{} documented command(s) failed or are unclassified:\n{}",
        tally.problems.len(),
        tally.problems.join("\n")
    );
    assert!(tally.run > 0, "no documented smartscale command was found to run: is the extraction broken?");
}

#[test]
fn extraction_reads_console_output_continuations_heredocs_and_markers() {
    let markdown = "text\n```sh\n# needs AWS\naws s3 ls \\\n  --recursive\n```\n\n```\n$ smartscale simulate --days 7   # exits 0\nwindow  output line\n```\n\n```sh\ncat >/tmp/x <<'EOF'\nnot a command\nEOF\nsmartscale decide --input a.json\n```\n\n```text\nsmartscale not-shell\n```\n\n```\nfields @timestamp\n```\n";
    let blocks = shell_blocks("doc.md", markdown);
    assert_eq!(blocks.len(), 3, "the sh block, the console-style block and the heredoc block; not text or the query");
    assert!(blocks[0].needs_remote());
    let first = commands(&blocks[0]);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].text, "aws s3 ls --recursive");
    assert_eq!(first[0].line, 4);
    let second = commands(&blocks[1]);
    assert_eq!(second.len(), 1, "the output line is not a command");
    let (text, comment) = split_comment(&second[0].text);
    assert_eq!(text, "smartscale simulate --days 7");
    assert_eq!(documented_exit(comment), 0);
    assert_eq!(documented_exit("# exits 2 (bad input)"), 2);
    let words = shell_words(text).unwrap();
    assert_eq!(with_one_day(smartscale_args(&words).unwrap()), ["simulate", "--days", "1"]);
    let third: Vec<String> = commands(&blocks[2]).into_iter().map(|c| c.text).collect();
    assert_eq!(third, ["cat >/tmp/x <<'EOF'", "smartscale decide --input a.json"]);
    assert!(shell_words("smartscale x | jq .").is_err());
    assert_eq!(
        smartscale_args(&shell_words("cargo run --release -p smartscale -- compare --json").unwrap()).unwrap(),
        ["compare", "--json"]
    );
    assert!(is_synopsis("smartscale invoke <decider|scale-up> --event FILE [--at RFC3339]"));
    assert!(!is_synopsis("smartscale backtest --prometheus http://127.0.0.1:9090 --days 14"));
    assert_eq!(allow_listed("scripts/test"), Some(NOT_RUN_HERE[0].1));
    assert_eq!(allow_listed("scripts/testing"), None);
}

#[test]
fn unclassified_and_failing_commands_are_named_with_file_and_line() {
    let markdown = "```sh\nmake deploy\nsmartscale simulate --no-such-flag\nsmartscale simulate --no-such-flag   # exits 2\nsmartscale decide --input x.json | jq .\n```\n";
    let root = repo_root();
    let scratch = std::env::temp_dir().join(format!("smartscale-docs-commands-self-{}", std::process::id()));
    let mut tally = Tally::default();
    for block in shell_blocks("doc.md", markdown) {
        check_block(&root, &block, &scratch, &mut tally);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(tally.run, 1, "the bad flag with its documented exit 2 passes: {tally:?}");
    assert_eq!(tally.problems.len(), 3, "{tally:?}");
    assert!(tally.problems[0].starts_with("doc.md:2: `make deploy`: unclassified"), "{}", tally.problems[0]);
    assert!(tally.problems[1].starts_with("doc.md:3: `smartscale simulate --no-such-flag`: exit Some(2), documented 0"));
    assert!(tally.problems[2].contains("doc.md:5:") && tally.problems[2].contains("shell syntax `|`"));
}
