//! `callbridge demo`, run as the built binary with nothing configured.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_callbridge");

/// Runs a scenario faster than the default pace; returns (success, stdout, stderr).
fn demo(scenario: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .env_clear()
        .current_dir(dir.path())
        .args([
            "demo",
            "--scenario",
            scenario,
            "--time-scale",
            "0.1",
            "--talk-secs",
            "1",
        ])
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn line_starting<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{stdout}"))
}

#[test]
fn the_happy_demo_connects_both_phones_and_exits_0() {
    let (ok, stdout, stderr) = demo("happy");
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        !stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    for state in ["AGENT RINGING", "CONNECTED", "COMPLETED"] {
        assert!(stdout.contains(state), "{state} missing from:\n{stdout}");
    }
    assert!(stdout.contains("presses 1"), "{stdout}");
    assert!(stdout.contains("Summary"), "{stdout}");
    assert_eq!(
        line_starting(&stdout, "state").split_whitespace().nth(1),
        Some("completed")
    );
    assert!(
        line_starting(&stdout, "duration").ends_with(" s"),
        "{stdout}"
    );
    let legs: Vec<_> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("leg "))
        .collect();
    assert_eq!(legs.len(), 2, "{stdout}");
    assert!(legs.iter().all(|l| l.contains("completed")), "{stdout}");
    let events: u32 = line_starting(&stdout, "events")
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(events >= 8, "{stdout}");
    assert!(line_starting(&stdout, "recording").contains("none"));
    assert!(stdout.contains("✔ happy"), "{stdout}");
}

#[test]
fn the_busy_demo_fails_the_call_as_expected_and_exits_0() {
    let (ok, stdout, stderr) = demo("busy");
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("line busy"), "{stdout}");
    assert!(stdout.contains("FAILED (recipient busy)"), "{stdout}");
    assert_eq!(
        line_starting(&stdout, "state"),
        "  state      failed (recipient_busy)"
    );
    assert!(!stdout.contains("CONNECTED"), "{stdout}");
    assert!(stdout.contains("✔ busy"), "{stdout}");
}

#[test]
fn the_browser_demo_calls_from_a_simulated_voice_sdk_and_exits_0() {
    let (ok, stdout, stderr) = demo("browser");
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("a Voice SDK token for client:agent_"),
        "{stdout}"
    );
    assert!(stdout.contains("hangs up in the browser"), "{stdout}");
    assert!(!stdout.contains("presses 1"), "{stdout}");
    assert_eq!(
        line_starting(&stdout, "state").split_whitespace().nth(1),
        Some("completed")
    );
    let legs: Vec<_> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("leg "))
        .collect();
    assert_eq!(legs.len(), 2, "{stdout}");
    assert!(legs.iter().any(|l| l.contains("client:agent_")), "{stdout}");
    assert!(stdout.contains("✔ browser"), "{stdout}");
}
