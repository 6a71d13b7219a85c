//! Questions on the terminal, asked only when standard input is one.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};

/// Whether anyone is there to answer.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// One line from the terminal, trimmed; `None` when nobody answers.
pub fn ask(question: &str) -> Option<String> {
    if !interactive() {
        return None;
    }
    eprint!("{question}: ");
    let _ = std::io::stderr().flush();
    read_line()
}

/// Like [`ask`], without echoing what is typed (a secret). `stty` switches the echo off and on
/// again, as shells' `read -s` does, so no terminal handling of our own is needed.
pub fn ask_secret(question: &str) -> Option<String> {
    if !interactive() {
        return None;
    }
    eprint!("{question} (not shown): ");
    let _ = std::io::stderr().flush();
    let stty = |arg: &str| {
        Command::new("stty")
            .arg(arg)
            .stdin(Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    let hidden = stty("-echo");
    let line = read_line();
    if hidden {
        stty("echo");
    }
    eprintln!();
    line
}

fn read_line() -> Option<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim().to_owned()).filter(|l| !l.is_empty())
}
