//! The `.env` a set-up writes: read as `KEY=value` lines, changed in place so that comments,
//! order and the user's own variables survive, and written owner-only (it holds secrets).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// A `.env` file's lines, with the variables it sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    lines: Vec<String>,
}

/// What applying the set-up's values would do to one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added {
        key: String,
    },
    /// The file has another value; replaced only with `--force`.
    Replaced {
        key: String,
    },
}

impl EnvFile {
    /// The file at `path`, or an empty one when there is none.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(err),
        }
    }

    pub fn parse(text: &str) -> Self {
        Self {
            lines: text.lines().map(str::to_owned).collect(),
        }
    }

    /// The value the file gives `key` (the last assignment wins, as dotenv reads it), without
    /// the quotes around it.
    pub fn get(&self, key: &str) -> Option<String> {
        self.lines
            .iter()
            .filter_map(|line| assignment(line))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .next_back()
            .filter(|v| !v.is_empty())
    }

    /// Every variable the file sets.
    pub fn vars(&self) -> BTreeMap<String, String> {
        self.lines
            .iter()
            .filter_map(|line| assignment(line))
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    /// Sets every `(key, value)`; returns what changed. A value the file already has the same
    /// is no change.
    pub fn apply(&mut self, values: &[(&str, String)]) -> Vec<Change> {
        let mut changes = Vec::new();
        for (key, value) in values {
            match self.get(key) {
                Some(current) if current == *value => {}
                Some(_) => {
                    changes.push(Change::Replaced {
                        key: (*key).to_owned(),
                    });
                    let line = format!("{key}={}", quoted(value));
                    for existing in &mut self.lines {
                        if assignment(existing).is_some_and(|(k, _)| k == *key) {
                            existing.clone_from(&line);
                        }
                    }
                }
                None => {
                    changes.push(Change::Added {
                        key: (*key).to_owned(),
                    });
                    // An empty assignment or a commented-out sample line makes room for it.
                    let line = format!("{key}={}", quoted(value));
                    let slot = self.lines.iter().position(|l| {
                        assignment(l).is_some_and(|(k, v)| k == *key && v.is_empty())
                            || l.trim_start_matches(['#', ' '])
                                .starts_with(&format!("{key}="))
                    });
                    match slot {
                        Some(i) => self.lines[i] = line,
                        None => self.lines.push(line),
                    }
                }
            }
        }
        changes
    }

    pub fn text(&self) -> String {
        let mut text = self.lines.join("\n");
        text.push('\n');
        text
    }

    /// Writes the file readable by its owner only, whatever mode it had.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(self.text().as_bytes())
    }
}

/// `KEY=value` (also `export KEY=value`, quoted values), or `None` for a comment or blank line.
fn assignment(line: &str) -> Option<(&str, String)> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let value = value.trim();
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
        .unwrap_or(value);
    Some((key, unquoted.to_owned()))
}

/// A value as a line of `.env` can hold it: bare when it is plain, else in single quotes.
fn quoted(value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+-_./:@,".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{value}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Twilio\nTWILIO_ACCOUNT_SID=ACx\n# VERIFY_SERVICE_SID=VAxxxx\n\
                          TWIML_APP_SID=\nMY_OWN=keep me\nexport QUOTED='a b'\n";

    #[test]
    fn values_are_read_as_dotenv_reads_them() {
        let file = EnvFile::parse(SAMPLE);
        assert_eq!(file.get("TWILIO_ACCOUNT_SID").as_deref(), Some("ACx"));
        assert_eq!(file.get("VERIFY_SERVICE_SID"), None);
        assert_eq!(file.get("TWIML_APP_SID"), None);
        assert_eq!(file.get("QUOTED").as_deref(), Some("a b"));
        assert_eq!(file.get("MY_OWN").as_deref(), Some("keep me"));
    }

    #[test]
    fn applying_fills_the_sample_slots_and_keeps_everything_else() {
        let mut file = EnvFile::parse(SAMPLE);
        let changes = file.apply(&[
            ("TWILIO_ACCOUNT_SID", "ACx".into()),
            ("VERIFY_SERVICE_SID", "VA1".into()),
            ("TWIML_APP_SID", "AP1".into()),
            ("JWT_SECRET", "s3cr3t with space".into()),
        ]);
        assert_eq!(
            changes,
            [
                Change::Added {
                    key: "VERIFY_SERVICE_SID".into()
                },
                Change::Added {
                    key: "TWIML_APP_SID".into()
                },
                Change::Added {
                    key: "JWT_SECRET".into()
                },
            ]
        );
        let text = file.text();
        assert!(
            text.starts_with("# Twilio\nTWILIO_ACCOUNT_SID=ACx\nVERIFY_SERVICE_SID=VA1\n"),
            "{text}"
        );
        assert!(
            text.contains("TWIML_APP_SID=AP1\nMY_OWN=keep me\n"),
            "{text}"
        );
        assert!(text.ends_with("JWT_SECRET='s3cr3t with space'\n"), "{text}");
        assert_eq!(
            EnvFile::parse(&text).get("JWT_SECRET").as_deref(),
            Some("s3cr3t with space")
        );
        // The same values again change nothing.
        assert!(
            file.apply(&[("VERIFY_SERVICE_SID", "VA1".into())])
                .is_empty()
        );
    }

    #[test]
    fn another_value_is_reported_as_a_replacement() {
        let mut file = EnvFile::parse("CALLER_ID=+14155550100\n");
        let changes = file.apply(&[("CALLER_ID", "+14155550111".into())]);
        assert_eq!(
            changes,
            [Change::Replaced {
                key: "CALLER_ID".into()
            }]
        );
        assert_eq!(file.text(), "CALLER_ID=+14155550111\n");
    }

    #[test]
    fn the_file_is_written_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "A=1\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut file = EnvFile::read(&path).unwrap();
        file.apply(&[("B", "2".into())]);
        file.write(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "A=1\nB=2\n");
        assert_eq!(
            EnvFile::read(&dir.path().join("none")).unwrap(),
            EnvFile::default()
        );
    }
}
